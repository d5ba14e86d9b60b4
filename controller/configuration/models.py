"""Configuration in layers: each organisation's, site's and device's settings with their
history, and the rollouts that carry a change to the devices (controller/configuration/)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.commands.models import Command
from controller.db import Base, UTCDateTime, utcnow


class LayerScope(enum.StrEnum):
    """Where a layer applies, from the widest; a narrower layer wins (defaults are code)."""

    ORGANISATION = "organisation"
    SITE = "site"
    DEVICE = "device"


class RolloutStrategy(enum.StrEnum):
    NOW = "now"  # every device at once
    WAVES = "waves"  # one site first; the rest once every device of that site applied it
    SCHEDULED = "scheduled"  # at a set time, each device a random number of seconds later


class RolloutState(enum.StrEnum):
    RUNNING = "running"  # commands on their way, or due later
    # The first wave had a device that failed, or (an agent upgrade) any device did: the rest
    # waits for a person.
    HALTED = "halted"
    DONE = "done"  # every device was sent its settings (some may have failed: see targets)
    SUPERSEDED = "superseded"  # a newer change of the same layer took its place


class ConfigLayer(Base):
    """The settings one organisation, site or device sets for its devices (only those it sets;
    the others come from a wider layer or the defaults)."""

    __tablename__ = "config_layers"
    __table_args__ = (UniqueConstraint("scope", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[LayerScope] = mapped_column(String(16))
    # The organisation's or site's id (as text) or the device's id.
    target_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    versions: Mapped[list[ConfigVersion]] = relationship(
        back_populates="layer", order_by="ConfigVersion.version.desc()"
    )


class ConfigVersion(Base):
    """One version of a layer, kept whole: what a rollback goes back to."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("layer_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("config_layers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author: Mapped[str] = mapped_column(String(120))  # username or "cli"
    note: Mapped[str] = mapped_column(String(300), default="")  # "rollback to version 2" …
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    layer: Mapped[ConfigLayer] = relationship(back_populates="versions")


class Rollout(Base):
    """A layer's version on its way to the devices it changes."""

    __tablename__ = "config_rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("config_layers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[RolloutStrategy] = mapped_column(String(16))
    state: Mapped[RolloutState] = mapped_column(String(16), default=RolloutState.RUNNING)
    # Waves: the site that goes first.
    first_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    spread_s: Mapped[int] = mapped_column(Integer, default=0)
    # It changes the release of borne some device runs: any device that fails halts it, since
    # an upgrade that fails on one PC (its guard rolled it back) will likely fail on the next.
    upgrades_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Failed devices a person saw when resuming it: only a failure beyond these halts it again.
    failures_accepted: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    layer: Mapped[ConfigLayer] = relationship()
    targets: Mapped[list[RolloutTarget]] = relationship(
        back_populates="rollout", order_by="RolloutTarget.wave, RolloutTarget.due_at"
    )


class RolloutTarget(Base):
    """One device of a rollout: when it is due, and the command that carries its settings
    (its state is the device's: pending until sent, then applied or failed with its answer)."""

    __tablename__ = "config_rollout_targets"
    __table_args__ = (Index("ix_config_rollout_targets_due", "rollout_id", "command_id", "due_at"),)

    rollout_id: Mapped[int] = mapped_column(
        ForeignKey("config_rollouts.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    wave: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The settings this device is sent (its own: a device layer below may keep some values).
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    command_id: Mapped[str | None] = mapped_column(ForeignKey("commands.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")  # why it was not sent, when it was not

    rollout: Mapped[Rollout] = relationship(back_populates="targets")
    command: Mapped[Command | None] = relationship()

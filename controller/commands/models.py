"""Commands: an action asked of a device, who asked, and how it ended."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent.protocol import CommandName
from controller.db import Base, UTCDateTime, utcnow
from controller.fleet.models import Device
from controller.places.models import Site


class CommandState(enum.StrEnum):
    QUEUED = "queued"  # stored, not yet pushed to the device
    SENT = "sent"  # pushed (again at each reconnection) and possibly claimed: see started_at
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # nobody claimed it in time: it will never run

    @property
    def finished(self) -> bool:
        return self in (CommandState.DONE, CommandState.FAILED, CommandState.EXPIRED)


class Command(Base):
    """An action sent to a device: who asked, when, until when, and how it ended."""

    __tablename__ = "commands"
    __table_args__ = (
        Index("ix_commands_runner_state", "runner_id", "state"),
        Index("ix_commands_state_expires", "state", "expires_at"),
        Index("ix_commands_device_created", "device_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID
    name: Mapped[CommandName] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The device acted upon, and the one that runs it: the same but for Wake-on-LAN, which a
    # neighbour on the site's network sends.
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    runner_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    state: Mapped[CommandState] = mapped_column(String(16), default=CommandState.QUEUED)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[str] = mapped_column(String(120))  # username, "cli" or "schedule"
    batch_id: Mapped[str | None] = mapped_column(String(36))  # one request for a whole site
    schedule_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the device's claim
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    output: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    device: Mapped[Device] = relationship(foreign_keys=[device_id])
    runner: Mapped[Device] = relationship(foreign_keys=[runner_id])
    site: Mapped[Site] = relationship()

"""Devices, what their agents reported, and the tokens that enrol them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent.protocol import DeviceKind
from controller.db import Base, BigId, UTCDateTime, utcnow
from controller.places.models import Site


class DeviceStatus(enum.StrEnum):
    NEW = "new"  # enrolled, no heartbeat yet
    ONLINE = "online"
    OFFLINE = "offline"  # three heartbeats missed


class Device(Base):
    """A public PC, a charging kiosk or a hotspot gateway, known by its agent."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID, given at enrolment
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[DeviceKind] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of a 256-bit random secret: a slow password hash adds nothing against guessing
    # such a secret and would cost milliseconds on every agent call.
    secret_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeviceStatus] = mapped_column(String(16), default=DeviceStatus.NEW)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    heartbeat_interval_s: Mapped[int] = mapped_column(Integer, default=10)
    # Loaded only when asked for (fleet.list_devices does): most reads of a device, such as
    # authenticating it or sending it a command, need neither, and decoding them costs.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, deferred=True)
    inventory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, deferred=True)
    inventory_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What its agent said it reads (agent.protocol.AgentFeature values), at enrolment and in its
    # latest heartbeat: which update_config settings it may be sent (fleet/features.py).
    agent_features: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Taken out of service for good: its secret is refused, its history kept.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Secret rotation (enrolment.request_secret_rotation): staff asked for a new secret; the
    # agent fetched one, kept here beside the current one until its first use promotes it, so
    # that a device that crashed before saving it still gets in with the old one.
    secret_rotation_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_secret_hash: Mapped[str | None] = mapped_column(String(64))
    # Out of service for a repair (maintenance.out_of_service): a public PC refuses the guest
    # login and says so, its alerts are silenced, availability counts it apart.
    out_of_service_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    out_of_service_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")

    site: Mapped[Site] = relationship(back_populates="devices")


class DeviceEvent(Base):
    """What an agent reported, stored once per (device, seq) whatever the retries."""

    __tablename__ = "device_events"
    __table_args__ = (UniqueConstraint("device_id", "seq", name="uq_device_events_device_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the device's clock
    # The controller's: retention counts from here, whatever a device's clock says.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class EnrolmentToken(Base):
    """A one-time, expiring secret that lets one device join one site."""

    __tablename__ = "enrolment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    kind: Mapped[DeviceKind | None] = mapped_column(String(16))  # None: any kind
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # unused, then withdrawn
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))

    site: Mapped[Site] = relationship()

"""Alerts: what staff must look at, raised by monitoring, resolved when the cause goes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.db import Base, BigId, UTCDateTime, utcnow
from controller.fleet.models import Device


class AlertKind(enum.StrEnum):
    # A public PC's wipe left something of a resident: its guest login is locked until a reset
    # comes back clean.
    WIPE_INCOMPLETE = "wipe_incomplete"
    # The device's clock is more than a minute off the controller's: schedules, session limits
    # and what the device reports go wrong by as much.
    CLOCK_OFF = "clock_off"


class Alert(Base):
    """Something staff must look at, raised by monitoring; resolved by itself or by a person."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "resolved_at", "site_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[AlertKind] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(String(200), default="")

    device: Mapped[Device] = relationship()

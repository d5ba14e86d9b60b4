"""Wifi hotspots: their captive portal as set from the controller, and its usage (aggregates)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent.protocol import PortalModeName
from controller.commands.models import Command
from controller.db import Base, BigId, UTCDateTime, utcnow


class PortalHour(Base):
    """Devices a hotspot let out in one hour (UTC): aggregates only, never an address."""

    __tablename__ = "portal_hours"
    __table_args__ = (UniqueConstraint("device_id", "hour", name="uq_portal_hours_device_hour"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    connections: Mapped[int] = mapped_column(Integer, default=0)


class PortalDay(Base):
    """A hotspot's day: distinct devices (counted on the hotspot by a hash salted that day)."""

    __tablename__ = "portal_days"
    __table_args__ = (UniqueConstraint("device_id", "day", name="uq_portal_days_device_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    unique_devices: Mapped[int] = mapped_column(Integer, default=0)
    peak_clients: Mapped[int] = mapped_column(Integer, default=0)
    clients_now: Mapped[int] = mapped_column(Integer, default=0)


class PortalSession(Base):
    """One device's stay on the wifi: its length and the day it ended, nothing else."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_site_day", "site_id", "ended_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    ended_on: Mapped[date] = mapped_column(Date)
    seconds: Mapped[int] = mapped_column(Integer)


class HotspotPortal(Base):
    """A hotspot's captive portal as set from the controller (controller/hotspots/service.py).

    A hotspot without a row has never been set from here: its portal follows its own settings
    file.
    """

    __tablename__ = "hotspot_portals"
    DEFAULT_MODE: ClassVar[PortalModeName] = PortalModeName.CLICK
    DEFAULT_SESSION_MIN: ClassVar[int] = 240

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[PortalModeName] = mapped_column(String(16), default=DEFAULT_MODE)
    # Closed outside the site's opening hours. Off by default: enrolling a hotspot must not
    # close a wifi that works (its own file's default is open at all hours); staff opt in.
    follow_site_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    # A connection lasts this long, then the resident connects again.
    session_min: Mapped[int] = mapped_column(Integer, default=DEFAULT_SESSION_MIN)
    # What the codes of "code" mode derive from: sent to the hotspot, never shown to anyone.
    code_secret: Mapped[str] = mapped_column(String(128))
    # Sent with the settings; the hotspot ignores settings older than those it has.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # The update_config that carries the current settings: until it is done, the hotspot may
    # still run the previous ones, and pages say so beside the code of the day.
    command_id: Mapped[str | None] = mapped_column(ForeignKey("commands.id", ondelete="SET NULL"))
    command: Mapped[Command | None] = relationship()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HotspotSubnet(Base):
    """A hotspot's client network in the city's address plan (controller/hotspots/address_plan.py):
    cut from the ``hotspot_supernet`` setting, overlapping no other hotspot's, so that two
    hotspots on one backbone never hand out the same addresses."""

    __tablename__ = "hotspot_subnets"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    # "10.64.4.0/22"; unique catches two processes allocating the same free subnet at once.
    subnet: Mapped[str] = mapped_column(String(18), unique=True)
    # False: allocated by the controller; True: chosen by a person (kept when the plan's
    # defaults change).
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

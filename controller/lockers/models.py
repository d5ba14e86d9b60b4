"""Charging kiosks' lockers as the kiosks report them, the phones charged (anonymous), and the
incidents a kiosk reported and has not yet said are over.

Never a code, never who: a locker is a number, a state and a door; a charging session is when and
how it ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agent.protocol import ChargingEnd, DoorState, LockerIncidentKind, LockerState
from controller.db import Base, BigId, UTCDateTime


class LockerBank(Base):
    """A kiosk's bank of lockers as its latest report says: when the kiosk said so (its clock,
    so that an older report arriving late never overwrites a newer one) and whether its lock
    board answers."""

    __tablename__ = "locker_banks"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the report's ``at``
    driver_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    driver_message: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # received, by our clock


class Locker(Base):
    """One locker of a kiosk: its state and door since when; ``updated_at`` is when the
    controller last saw it change."""

    __tablename__ = "lockers"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[LockerState] = mapped_column(String(16))
    door: Mapped[DoorState] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChargingSession(Base):
    """One phone charged: where, in which locker, when, and how it ended. Anonymous.

    ``seq`` is the kiosk's event number: a replayed event is stored once, whatever reaches the
    controller twice."""

    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("device_id", "seq", name="uq_charging_sessions_device_seq"),
        Index("ix_charging_sessions_site_started", "site_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))  # where the kiosk stood then
    locker: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    ended_by: Mapped[ChargingEnd] = mapped_column(String(16))


# ``locker`` of an incident about the whole kiosk (its lock board, its keypad).
WHOLE_KIOSK = 0


class OpenIncident(Base):
    """An incident a kiosk reported and has not said is over, one per (kind, locker).

    Alerts are one per device and kind: two lockers past their time are one alert, which must
    stay open until the last of them is opened. These rows say which lockers it is still about.
    """

    __tablename__ = "open_locker_incidents"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[LockerIncidentKind] = mapped_column(String(16), primary_key=True)
    locker: Mapped[int] = mapped_column(Integer, primary_key=True)  # WHOLE_KIOSK: none
    message: Mapped[str] = mapped_column(String(200), default="")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)  # by the kiosk's clock


class KioskSettings(Base):
    """The rules a site's charging kiosks follow, as staff set them on the site's page: the
    longest a phone may charge, where to ask for help, what happens to a phone left at closing.

    A site without a row has the defaults (controller/lockers/settings.py): most sites have no
    kiosk, and one enrolled there starts with the defaults and the site's hours all the same.
    """

    __tablename__ = "kiosk_settings"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    max_charge_min: Mapped[int] = mapped_column(Integer)
    help_text: Mapped[str] = mapped_column(String(300), default="")  # "": the kiosk's own words
    forgotten_text: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Hourly rollups of what the devices were used for, kept up to date as data arrives, so that the
managers' dashboard never reads raw rows.

Four grains of the same measures, written together in the transaction that brings the data
(controller/statistics/rollups.py): per device and hour (the base: a site's devices side by
side), per site and hour (any stretch of hours), per site, local month and hour of the week
(occupancy by hour of the week over long periods), per site and local day (sites ranked, daily
trends). A year of 500 devices is about 4 million device-hours at most, but a site-day row sums a
whole day of a site: the ranking of 60 sites over a year reads 22,000 rows, not millions; and a
site's hour of the week over a month sums its four or five hours at that time of the week, so
the hours of the week of 60 sites over a year read the whole months there (some 50,000 rows)
and the site-hours of the days at its ends only, not 250,000 site-hours.

Aggregates only: counts and seconds, never a session, never a resident.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from agent.protocol import DeviceKind, SessionEnd
from controller.db import Base, UTCDateTime


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


class Measures:
    """What every grain counts. Seconds are cut at the hour: a session from 10:40 to 11:20
    gives 1,200 s to 10:00 and 1,200 s to 11:00, and counts as started at 10:00."""

    pc_sessions: Mapped[int] = _count()  # residents' sessions started on public PCs
    pc_in_use_s: Mapped[int] = _count()  # seconds a public PC was in a resident's session
    # How the sessions started in the hour ended, one column per SessionEnd.
    pc_ended_logout: Mapped[int] = _count()
    pc_ended_idle: Mapped[int] = _count()
    pc_ended_max_duration: Mapped[int] = _count()
    pc_ended_command: Mapped[int] = _count()
    pc_ended_local: Mapped[int] = _count()
    pc_open_s: Mapped[int] = _count()  # seconds public PCs were there in the opening hours
    charging_sessions: Mapped[int] = _count()  # phones charged, by the hour they were left
    charging_s: Mapped[int] = _count()  # seconds a locker held a phone
    wifi_connections: Mapped[int] = _count()  # devices the hotspots let out
    # Availability, sampled (every device kind): seconds within opening hours the controller
    # watched the device, and of those, seconds it was usable (online, in service, login open).
    observed_s: Mapped[int] = _count()
    usable_s: Mapped[int] = _count()


# The column counting each way a session ends.
ENDED_COLUMNS = {end: f"pc_ended_{end.value}" for end in SessionEnd}
MEASURES = tuple(
    name for name, value in vars(Measures).items() if not name.startswith("_") and value
)


class DeviceHour(Measures, Base):
    """One device's hour (UTC), at the site it stood at then."""

    __tablename__ = "statistics_device_hours"
    __table_args__ = (Index("ix_statistics_device_hours_site_hour", "site_id", "hour"),)

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind: Mapped[DeviceKind] = mapped_column(String(16))
    weekhour: Mapped[int] = mapped_column(SmallInteger)  # local: 0 is Monday 00:00-01:00


class SiteHour(Measures, Base):
    """One site's hour (UTC): the sum of its devices' hours."""

    __tablename__ = "statistics_site_hours"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    weekhour: Mapped[int] = mapped_column(SmallInteger)


class SiteDay(Measures, Base):
    """One site's day, local to the city: the sum of its hours that start that day."""

    __tablename__ = "statistics_site_days"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class SiteWeekHour(Measures, Base):
    """One site's hour of the week (local) over one local month: the sum of its hours that
    start in that month at that hour of the week (two on the night the clocks go back)."""

    __tablename__ = "statistics_site_week_hours"
    # SQLite: rows stored in the key's order, read in one pass (no second lookup per row).
    __table_args__ = {"sqlite_with_rowid": False}

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    weekhour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)


class StatisticsClock(Base):
    """How far a periodic rollup has gone ("availability sampled until …"): every controller
    process runs the jobs, and only the one that moves a clock from the value it read does the
    work (a compare-and-set), so nothing is counted twice."""

    __tablename__ = "statistics_clocks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

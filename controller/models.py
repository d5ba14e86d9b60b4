"""SQLAlchemy models of the controller. Tables change only through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from controller.choices import (
    AlertKind,
    CommandName,
    CommandState,
    DeviceKind,
    DeviceStatus,
    PortalModeName,
    Role,
    SessionEnd,
)

# Stable constraint names, so that migrations can alter them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    """A structure (library network, MDH, CCAS, association) that owns sites."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sites: Mapped[list[Site]] = relationship(back_populates="organisation", order_by="Site.name")


class Site(Base):
    """A public place: where devices are and what residents find there."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    opening_hours: Mapped[str] = mapped_column(String(500), default="")  # OpenStreetMap syntax
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    # Public PCs of the site: a session ends after this many minutes without input, and after
    # max_session_min in all when set (None: no limit, no time pressure on residents).
    idle_timeout_min: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    max_session_min: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    organisation: Mapped[Organisation] = relationship(back_populates="sites")
    devices: Mapped[list[Device]] = relationship(back_populates="site", order_by="Device.name")


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

    site: Mapped[Site] = relationship(back_populates="devices")


class DeviceEvent(Base):
    """What an agent reported, stored once per (device, seq) whatever the retries."""

    __tablename__ = "device_events"
    __table_args__ = (UniqueConstraint("device_id", "seq", name="uq_device_events_device_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
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
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))

    site: Mapped[Site] = relationship()


class User(Base):
    """A member of staff. Residents never have accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scopes: Mapped[list[UserScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class UserScope(Base):
    """One organisation or one site a user covers."""

    __tablename__ = "user_scopes"
    __table_args__ = (
        CheckConstraint(
            "(organisation_id IS NULL) <> (site_id IS NULL)", name="one_of_organisation_or_site"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))

    user: Mapped[User] = relationship(back_populates="scopes")


class AuditLog(Base):
    """Who did what, when, to what. Never what a resident did."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(120))  # username, or "cli" / "system"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")


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


class SiteClosure(Base):
    """An exceptional closure of a site (works, strike, summer): no wake-up those days."""

    __tablename__ = "site_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # inclusive
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()


class PcSession(Base):
    """One resident's use of a public PC. Anonymous: when, how long, and how it ended."""

    __tablename__ = "pc_sessions"
    __table_args__ = (
        Index("ix_pc_sessions_site_started", "site_id", "started_at"),
        Index("ix_pc_sessions_device_started", "device_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    ended_by: Mapped[SessionEnd] = mapped_column(String(16))


class WipeReport(Base):
    """The proof a public PC sent after a reset: what went, how fast, and anything left."""

    __tablename__ = "wipe_reports"
    __table_args__ = (Index("ix_wipe_reports_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_ms: Mapped[int] = mapped_column(Integer)
    wipe_ms: Mapped[int] = mapped_column(Integer)
    removed_files: Mapped[int] = mapped_column(BigInteger)
    removed_bytes: Mapped[int] = mapped_column(BigInteger)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    leftovers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    leftovers_total: Mapped[int] = mapped_column(Integer, default=0)
    login_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_by: Mapped[SessionEnd] = mapped_column(String(16))

    @property
    def clean(self) -> bool:
        return self.leftovers_total == 0


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
    """A hotspot's captive portal as set from the controller (controller/hotspot_portal.py).

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

"""Monitoring and shared maintenance: alerts raised by rules, the teams that repair, their tickets.

An **alert** is what monitoring saw (one open per device and kind); a **ticket** is the repair a
person follows to its end, opened by an alert or by a member of staff, routed to a **team** that
may serve several organisations (the city's shared team serves many small structures). Rules
have defaults in code (:mod:`controller.maintenance.rules`); an organisation may override one.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.accounts.models import User
from controller.db import Base, BigId, UTCDateTime, utcnow
from controller.fleet.models import Device
from controller.places.models import Organisation, Site


class AlertKind(enum.StrEnum):
    # Off-line while its site is open (a PC switched off at night by the schedule is not).
    OFFLINE = "offline"
    CPU_HIGH = "cpu_high"
    MEMORY_HIGH = "memory_high"
    DISK_FULL = "disk_full"
    # A public PC's wipe left something of a resident: its guest login is locked until a reset
    # comes back clean.
    WIPE_INCOMPLETE = "wipe_incomplete"
    # A hotspot's captive portal does not answer: residents get no wifi.
    PORTAL_DOWN = "portal_down"
    # A printer of a public PC stopped (jam, no paper, no toner, off-line), as CUPS says.
    PRINTER_ERROR = "printer_error"
    # The device's clock is more than a minute off the controller's: schedules, session limits
    # and what the device reports go wrong by as much.
    CLOCK_OFF = "clock_off"
    # The agent is older than the controller: it misses fixes and may not understand commands.
    AGENT_OUTDATED = "agent_outdated"
    # Charging kiosks, as the kiosk reports them (controller.lockers): a phone past the site's
    # longest charge, a phone still there at closing time, a door that is not as it should be,
    # a lock board that does not answer, a keypad paused after too many wrong codes.
    LOCKER_OVERTIME = "locker_overtime"
    LOCKER_FORGOTTEN = "locker_forgotten"
    LOCKER_DOOR = "locker_door"
    LOCKER_DRIVER = "locker_driver"
    KEYPAD_PAUSED = "keypad_paused"


class Alert(Base):
    """Something staff must look at, raised by monitoring; resolved by itself or by a person."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_open", "resolved_at", "site_id"),
        # One open alert per device and kind, even when two controller processes evaluate the
        # rules at the same moment.
        Index(
            "uq_alerts_open_device_kind",
            "device_id",
            "kind",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[AlertKind] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(String(200), default="")
    # The ticket that follows the repair, once one is opened for it.
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )

    device: Mapped[Device] = relationship()


class AlertBreach(Base):
    """A rule's condition seen true on a device since ``since``, not yet for its tolerance.

    The alert is raised once the breach has lasted the rule's tolerance; the row goes as soon as
    the condition is false again, so a short spike raises nothing.
    """

    __tablename__ = "alert_breaches"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[AlertKind] = mapped_column(String(32), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertRuleOverride(Base):
    """An organisation's own threshold and tolerance for one kind of alert, or the kind off."""

    __tablename__ = "alert_rule_overrides"
    __table_args__ = (UniqueConstraint("organisation_id", "kind", name="uq_alert_rule_org_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(String(32))
    threshold: Mapped[float | None] = mapped_column(Float)
    tolerance_min: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()


team_organisations = Table(
    "team_organisations",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)

team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    """A maintenance team: the technicians who repair the devices of the organisations it serves.

    ``kinds`` narrows it to some kinds of device (["hotspot"] for a network team); empty, it
    takes every kind. A ticket goes to the team serving its organisation whose kinds name the
    device's kind, else to one serving it for every kind.
    """

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")  # where new tickets are told
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisations: Mapped[list[Organisation]] = relationship(
        secondary=team_organisations, lazy="selectin", order_by="Organisation.name"
    )
    members: Mapped[list[User]] = relationship(
        secondary=team_members, lazy="selectin", order_by="User.username"
    )


class TicketStatus(enum.StrEnum):
    """GLPI's fixed lifecycle."""

    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"  # for a part, a supplier, the site: the service-level clock pauses
    SOLVED = "solved"  # the technician says it works; the reporter may reopen it
    CLOSED = "closed"  # done for good


class TicketPriority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TicketCategory(enum.StrEnum):
    """What a mediator picks in three taps; alerts bring their own."""

    PRINTER = "printer"  # printer jammed, out of paper or toner
    INPUT = "input"  # keyboard or mouse
    SCREEN = "screen"
    WONT_START = "wont_start"
    NETWORK = "network"
    OTHER = "other"
    ALERT = "alert"  # opened by monitoring


class Ticket(Base):
    """A repair followed to its end; due times are counted in the site's opening hours."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_team_status", "team_id", "status"),
        Index("ix_tickets_site_opened", "site_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    category: Mapped[TicketCategory] = mapped_column(String(16))
    priority: Mapped[TicketPriority] = mapped_column(String(8), default=TicketPriority.NORMAL)
    status: Mapped[TicketStatus] = mapped_column(String(16), default=TicketStatus.NEW)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Who opened it: a member of staff, or None when monitoring did (then ``opened_by`` says so).
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_by: Mapped[str] = mapped_column(String(80))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Service levels: due instants, counted in opening hours; the solving one moves later by the
    # opening hours spent waiting.
    take_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    solve_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # For a ticket opened by an alert: when the last of its alerts resolved by itself.
    cause_gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship()
    device: Mapped[Device | None] = relationship()
    team: Mapped[Team | None] = relationship()
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )


class TicketEventKind(enum.StrEnum):
    OPENED = "opened"
    STATUS = "status"  # from_status -> to_status
    ASSIGNED = "assigned"
    COMMENT = "comment"
    ALERT = "alert"  # another alert of the device attached
    CAUSE_GONE = "cause_gone"  # monitoring saw the cause go
    PRIORITY = "priority"


class TicketEvent(Base):
    """One step of a ticket's history: what a person or monitoring did, and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[TicketEventKind] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Mail(Base):
    """An e-mail to send, written in the same transaction as what it tells (an outbox).

    ``key`` names the event ("ticket 12 new"): unique, so an event is mailed once whatever
    refreshes or retries; the sending job marks ``sent_at`` and keeps failures for a retry.
    """

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")

"""Public PCs: residents' sessions (anonymous) and the wipe reports that prove each reset.

A wipe that left something keeps an alert open on the device until a later wipe comes back
clean; the PC itself locked its guest login meanwhile, so nobody is exposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from agent import protocol
from agent.protocol import DeviceKind
from controller import access, audit, signals
from controller.access import Action, StaffMember
from controller.commands.models import Command
from controller.configuration import render
from controller.errors import DomainError
from controller.fleet.ingest import LiveMessage
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import DEFAULT_LANGUAGE, _
from controller.maintenance import service as alerts
from controller.maintenance.models import AlertKind
from controller.places import schedule
from controller.places.models import Site
from controller.places.opening_hours import ScheduledAction, SchedulePolicy
from controller.public_pcs.models import PcSession, WipeReport

IDLE_TIMEOUT_MIN = (2, 1440)  # minutes: a warning comes one minute before
MAX_SESSION_MIN = (5, 1440)


EXTENSION_MIN = 15  # a mediator's "+15 min"


def session_limits_args(site: Site) -> dict[str, int]:
    """The site's limits as the agents' ``update_config`` arguments."""
    return {
        "idle_timeout_s": site.idle_timeout_min * 60,
        "max_session_s": (site.max_session_min or 0) * 60,
    }


def site_locale_args(time_zone: str) -> dict[str, str]:
    """The language and time zone of what the site's PCs tell residents (``update_config``):
    the city's, for now, as sites have no language of their own."""
    return {"site_language": DEFAULT_LANGUAGE, "site_timezone": time_zone}


def pc_settings(session: Session, device: Device, *, time_zone: str) -> dict[str, int | str] | None:
    """What this domain keeps for a public PC (nothing for other kinds): its site's session
    limits, and the language and ``time_zone`` of its warnings. A new PC gets them with its
    identity, as far as its agent reads them (configuration/render.py)."""
    if device.kind != DeviceKind.PC:
        return None
    site = session.get(Site, device.site_id)
    assert site is not None
    return {**session_limits_args(site), **site_locale_args(time_zone)}


def set_session_limits(
    session: Session,
    user: StaffMember,
    site: Site,
    *,
    idle_timeout_min: int,
    max_session_min: int | None,
    time_zone: str = "Europe/Paris",
) -> list[Command]:
    """Change how long residents' sessions may last at ``site``; tell its PCs at once, with the
    language and ``time_zone`` of their warnings (to the agents that read them: the settings
    renderer leaves them out for the others).

    Returns the ``update_config`` commands issued (none when the site has no PC yet: a PC enrolled
    later gets the limits at enrolment).
    """
    access.require(user, Action.MANAGE_PLACES, site)
    low, high = IDLE_TIMEOUT_MIN
    if not low <= idle_timeout_min <= high:
        raise DomainError(
            _("the idle timeout must be between %(low)d and %(high)d minutes", low=low, high=high)
        )
    low, high = MAX_SESSION_MIN
    if max_session_min is not None and not low <= max_session_min <= high:
        raise DomainError(
            _(
                "the longest session must be between %(low)d and %(high)d minutes, or none",
                low=low,
                high=high,
            )
        )
    before = (site.idle_timeout_min, site.max_session_min)
    site.idle_timeout_min = idle_timeout_min
    site.max_session_min = max_session_min
    audit.record(
        session,
        user,
        "site.session_limits",
        "site",
        site.id,
        f"sessions at {site.name}: idle {idle_timeout_min} min, "
        f"longest {f'{max_session_min} min' if max_session_min else 'no limit'}",
        before={"idle_timeout_min": before[0], "max_session_min": before[1]},
    )
    pcs = session.scalars(
        select(Device.id)
        .where(Device.site_id == site.id, Device.kind == DeviceKind.PC)
        .where(Device.retired_at.is_(None))
    ).all()
    return render.send_settings(
        session,
        user,
        pcs,
        {**session_limits_args(site), **site_locale_args(time_zone)},
        owner=render.Owner.PUBLIC_PCS,
        pushed=True,
    )


def record_session(session: Session, device: Device, event: protocol.SessionRecord) -> PcSession:
    """Store one resident's session: when, how long, how it ended; nothing about the resident."""
    ended_at = max(event.ended_at, event.started_at)
    row = PcSession(
        device_id=device.id,
        site_id=device.site_id,
        started_at=event.started_at,
        ended_at=ended_at,
        duration_s=int((ended_at - event.started_at).total_seconds()),
        ended_by=event.ended_by,
    )
    session.add(row)
    return row


def record_wipe(
    session: Session, device: Device, event: protocol.WipeReport, now: datetime
) -> WipeReport:
    """Store the report; open an alert when something is left, resolve it once clean again."""
    total = max(event.leftovers_total, len(event.leftovers))
    row = WipeReport(
        device_id=device.id,
        at=event.at,
        started_at=event.started_at,
        ready_ms=event.ready_ms,
        wipe_ms=event.wipe_ms,
        removed_files=event.removed_files,
        removed_bytes=event.removed_bytes,
        actions=list(event.actions),
        leftovers=[
            {"area": item.area, "path": item.path, "reason": item.reason}
            for item in event.leftovers
        ],
        leftovers_total=total,
        login_locked=event.login_locked,
        ended_by=event.ended_by,
    )
    session.add(row)
    if total:
        first = event.leftovers[0] if event.leftovers else None
        detail = f": {first.area} {first.path} ({first.reason})" if first else ""
        more = f" and {total - 1} more" if total > 1 and first else ""
        locked = " The guest login is locked." if event.login_locked else ""
        alerts.raise_alert(
            session,
            device,
            AlertKind.WIPE_INCOMPLETE,
            f"The wipe after a reset left {total} item{'s' if total > 1 else ''}"
            f"{detail}{more}.{locked}",
            now,
        )
    else:
        alerts.resolve_alert(
            session, device.id, AlertKind.WIPE_INCOMPLETE, "a later wipe was clean", now
        )
    signals.send_after_commit(
        session,
        signals.wipe_reported,
        device.id,
        site_id=device.site_id,
        clean=total == 0,
        summary=wipe_summary(row),
    )
    return row


def wipe_summary(row: WipeReport) -> dict[str, object]:
    """A report as live pages and the API show it."""
    return {
        "device_id": row.device_id,
        "at": row.at.isoformat(),
        "ready_ms": row.ready_ms,
        "wipe_ms": row.wipe_ms,
        "removed_files": row.removed_files,
        "removed_bytes": row.removed_bytes,
        "actions": row.actions,
        "leftovers": row.leftovers,
        "leftovers_total": row.leftovers_total,
        "login_locked": row.login_locked,
        "clean": row.leftovers_total == 0,
    }


def recent_wipes(
    session: Session, viewer: StaffMember, device: Device, limit: int = 10
) -> list[WipeReport]:
    """The device's latest wipe reports, newest first, for someone who sees the device."""
    access.require(viewer, Action.VIEW_FLEET, device.site)
    return list(
        session.scalars(
            select(WipeReport)
            .where(WipeReport.device_id == device.id)
            .order_by(WipeReport.at.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class SessionSummary:
    count: int
    median_s: int
    ended_by: dict[str, int]


def recent_sessions(
    session: Session, viewer: StaffMember, device: Device, limit: int = 200
) -> SessionSummary:
    """How the device's latest sessions went: how many, their median length, how they ended;
    for someone who sees the device."""
    access.require(viewer, Action.VIEW_FLEET, device.site)
    rows = list(
        session.scalars(
            select(PcSession)
            .where(PcSession.device_id == device.id)
            .order_by(PcSession.started_at.desc())
            .limit(limit)
        )
    )
    lengths = sorted(r.duration_s for r in rows)
    ended_by: dict[str, int] = {}
    for r in rows:
        ended_by[r.ended_by] = ended_by.get(r.ended_by, 0) + 1
    median = lengths[len(lengths) // 2] if lengths else 0
    return SessionSummary(count=len(rows), median_s=median, ended_by=ended_by)


def session_event(
    session: Session, device: Device, event: protocol.SessionRecord, now: datetime
) -> None:
    """The ingest's handler of residents' sessions."""
    record_session(session, device, event)


def wipe_event(
    session: Session, device: Device, event: protocol.WipeReport, now: datetime
) -> LiveMessage:
    """The ingest's handler of wipe reports: store, alert if needed, show it live."""
    row = record_wipe(session, device, event, now)
    return LiveMessage("wipe", device.site_id, {**wipe_summary(row), "site_id": device.site_id})


# --- the mediators' view of a site's public PCs --------------------------------------------------


@dataclass(frozen=True)
class PcAtDesk:
    """A public PC as the mediator at the desk sees it: free or in use, since and until when."""

    device: Device
    online: bool
    in_use: bool
    since: datetime | None  # the resident's session started (UTC)
    ends_at: datetime | None  # the session reaches the site's longest length (UTC)
    last_wipe: WipeReport | None

    def minutes_left(self, now: datetime) -> int | None:
        if self.ends_at is None:
            return None
        return max(0, int((self.ends_at - now).total_seconds() // 60))


def pcs_at_desk(session: Session, viewer: StaffMember, site: Site) -> list[PcAtDesk]:
    """The site's public PCs in service, by name, each with what its last heartbeat said of the
    resident's session and its latest wipe; for someone who sees the site."""
    access.require(viewer, Action.VIEW_FLEET, site)
    pcs = list(
        session.scalars(
            select(Device)
            .where(Device.site_id == site.id, Device.kind == DeviceKind.PC)
            .where(Device.retired_at.is_(None))
            .options(undefer(Device.metrics))
            .order_by(Device.name)
        )
    )
    wipes: dict[str, WipeReport] = {}
    if pcs:
        for wipe in session.scalars(
            select(WipeReport)
            .where(WipeReport.device_id.in_([d.id for d in pcs]))
            .order_by(WipeReport.at)
        ):
            wipes[wipe.device_id] = wipe  # the latest wins
    return [_at_desk(device, wipes.get(device.id)) for device in pcs]


def _at_desk(device: Device, wipe: WipeReport | None) -> PcAtDesk:
    online = DeviceStatus(device.status) is DeviceStatus.ONLINE
    state = (device.metrics or {}).get("state") or {}
    in_use = online and isinstance(state, dict) and state.get("session") == "active"
    return PcAtDesk(
        device=device,
        online=online,
        in_use=in_use,
        since=_instant(state.get("session_since")) if in_use else None,
        ends_at=_instant(state.get("session_ends_at")) if in_use else None,
        last_wipe=wipe,
    )


def _instant(value: object) -> datetime | None:
    """An aware instant an agent reported, or None (absent or unreadable: older agents)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def closing_time(
    session: Session, site: Site, now: datetime, policy: SchedulePolicy
) -> datetime | None:
    """When the site's PCs close next, as its opening hours make them: the next planned
    shutdown less the delay the schedule leaves after closing. None without opening hours, or
    with no closing in the coming day."""
    plan = schedule.site_plan(session, site, now, now + timedelta(days=1), policy)
    shutdown = next((a for a in plan if a.action is ScheduledAction.SHUTDOWN), None)
    return None if shutdown is None else shutdown.at - policy.shutdown_after


def extension_args(
    session: Session,
    site: Site,
    *,
    until_closing: bool,
    now: datetime,
    policy: SchedulePolicy,
) -> dict[str, int | str]:
    """The ``extend_session`` arguments of a mediator's "+15 min" or "until closing" at
    ``site``, with the language and time zone of the resident's notice.

    Raises :class:`DomainError` when "until closing" has no closing time to go to."""
    args: dict[str, int | str] = {
        "minutes": EXTENSION_MIN,
        "language": DEFAULT_LANGUAGE,
        "time_zone": policy.timezone,
    }
    if until_closing:
        try:
            closes = closing_time(session, site, now, policy)
        except DomainError:
            closes = None  # unreadable hours: no closing time known
        if closes is None or closes - now < timedelta(minutes=1):
            raise DomainError(
                _(
                    "%(site)s has no closing time in the coming hours: add minutes instead",
                    site=site.name,
                ),
                code="no_closing_time",
            )
        args["ends_in_s"] = int((closes - now).total_seconds())
    return args

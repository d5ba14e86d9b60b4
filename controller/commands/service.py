"""Commands: staff (or the schedule) ask a device to act; the device claims, runs, reports.

Life of a command: ``queued`` when stored; ``sent`` once pushed to its device (pushed again at
each reconnection until claimed); the device's claim sets ``started_at`` and is granted once;
the result makes it ``done`` or ``failed``. An unclaimed command past its expiry is ``expired``
and can never run; a claimed one without a result by expiry plus a grace period is ``failed``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from flask_babel import LazyString, force_locale
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, selectinload

from agent.protocol import (
    COMMAND_ARGS,
    PORTAL_SETTINGS,
    ClaimAnswer,
    CommandMessage,
    CommandName,
    CommandResult,
    DeviceKind,
)
from controller import access, audit
from controller.access import Action, StaffMember
from controller.commands.models import Command, CommandState
from controller.commands.outcomes import outcome_of
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _, _l
from controller.places import service as places
from controller.places.models import Site

RESULT_GRACE = timedelta(hours=1)  # a claimed command may take this long past expiry to report
ALL_KINDS = frozenset(DeviceKind)
# Arguments for the device's eyes only: whoever knows the portal's secret knows every future
# code of the day, and a short PIN's hash gives the PIN back to anyone who tries them all.
# Pages, the API and the audit log show them as HIDDEN.
SECRET_ARGS = frozenset({"portal_code_secret", "kiosk_staff_pins"})
HIDDEN = "(hidden)"
# update_config settings the controller keeps a record of: only the module that keeps it sends
# them, through the settings renderer (configuration/render.py, ``owned_settings=True``). Sent
# as a plain command they would make the device and the controller's pages disagree (a code of
# the day the portal refuses), and get round the right to change them (MANAGE_PLACES, which a
# technician who may send commands does not have). Each value says where it is set.
OWNED_SETTINGS = {
    "idle_timeout_s": _l("the site's page (session limits)"),
    "max_session_s": _l("the site's page (session limits)"),
    "site_language": _l("the site's page (session limits)"),
    "site_timezone": _l("the site's page (session limits)"),
    **dict.fromkeys(PORTAL_SETTINGS, _l("the hotspot's page (Wifi portal)")),
    "out_of_service": _l("the device's page (out of service)"),
    "kiosk_max_charge_min": _l("the site's page (charging kiosks)"),
    "kiosk_help_text": _l("the site's page (charging kiosks)"),
    "kiosk_forgotten_text": _l("the site's page (charging kiosks)"),
    "kiosk_opening_hours": _l("the site's opening hours"),
    "kiosk_staff_pins": _l("each member of staff's own page (My account, kiosk PIN)"),
    # A plain command would upgrade past the waves that stop at the first agent that fails.
    "agent_version": _l("the configuration layers (agent version, rolled out in waves)"),
}


@dataclass(frozen=True)
class CommandSpec:
    label: str | LazyString  # for people, on buttons, and in English in the audit log
    kinds: frozenset[DeviceKind]  # kinds of device it applies to
    ttl: timedelta  # how long it may wait for an offline device
    confirm: str | LazyString = ""  # asked before sending, when the action is disruptive


SPECS: dict[CommandName, CommandSpec] = {
    CommandName.RESET_SESSION: CommandSpec(
        _l("Reset now"),
        frozenset({DeviceKind.PC}),
        timedelta(minutes=5),
        _l("End the current session and wipe everything the resident left?"),
    ),
    CommandName.LOCK_SCREEN: CommandSpec(
        _l("Lock the screen"), frozenset({DeviceKind.PC, DeviceKind.KIOSK}), timedelta(minutes=5)
    ),
    CommandName.UNLOCK_SCREEN: CommandSpec(
        _l("Unlock the screen"), frozenset({DeviceKind.PC, DeviceKind.KIOSK}), timedelta(minutes=5)
    ),
    CommandName.SHOW_MESSAGE: CommandSpec(
        _l("Show a message"), frozenset({DeviceKind.PC, DeviceKind.KIOSK}), timedelta(minutes=10)
    ),
    CommandName.REBOOT: CommandSpec(
        _l("Restart"), ALL_KINDS, timedelta(hours=1), _l("Restart the device now?")
    ),
    CommandName.SHUTDOWN: CommandSpec(
        _l("Shut down"), ALL_KINDS, timedelta(hours=1), _l("Shut the device down now?")
    ),
    CommandName.WAKE: CommandSpec(
        _l("Wake up (Wake-on-LAN)"),
        frozenset({DeviceKind.PC, DeviceKind.KIOSK}),
        timedelta(minutes=30),
    ),
    CommandName.MAINTENANCE: CommandSpec(
        _l("Install updates"), ALL_KINDS, timedelta(hours=6), _l("Install package updates now?")
    ),
    CommandName.UPDATE_CONFIG: CommandSpec(_l("Update settings"), ALL_KINDS, timedelta(days=1)),
    CommandName.COLLECT_LOGS: CommandSpec(_l("Collect logs"), ALL_KINDS, timedelta(hours=1)),
    # Short-lived: more time is asked for the resident at the PC now, not in an hour.
    CommandName.EXTEND_SESSION: CommandSpec(
        _l("More time"), frozenset({DeviceKind.PC}), timedelta(minutes=2)
    ),
    # Sent by controller.lockers with the locker, the staff member and their reason (audited).
    # Short-lived: someone waits at the kiosk for it, not an hour later. Admins and technicians
    # only (not in access.MEDIATOR_COMMANDS): a mediator opens a locker at the kiosk with their
    # PIN, in front of whoever takes the phone.
    CommandName.OPEN_LOCKER: CommandSpec(
        _l("Open a locker"), frozenset({DeviceKind.KIOSK}), timedelta(minutes=5)
    ),
}


def in_english(text: str | LazyString) -> str:
    """``text`` as the code writes it, whoever is reading: for what is stored once for every
    reader, such as the audit log's summaries."""
    with force_locale("en"):
        return str(text)


def parse_name(raw: str) -> CommandName:
    try:
        return CommandName(raw)
    except ValueError:
        known = ", ".join(n.value for n in CommandName)
        raise DomainError(
            _("unknown command %(name)s; known: %(known)s", name=repr(raw), known=known),
            code="unknown_command",
        ) from None


def validate_args(name: CommandName, args: Any) -> dict[str, Any]:
    """``args`` checked against the command's schema; a 422 that names the field otherwise."""
    try:
        parsed = msgspec.convert(args if args is not None else {}, COMMAND_ARGS[name], strict=True)
    except msgspec.ValidationError as exc:
        raise DomainError(
            _("invalid arguments for %(command)s: %(problem)s", command=name.value, problem=exc),
            code="invalid_args",
            status=422,
        ) from None
    result: dict[str, Any] = msgspec.to_builtins(parsed)
    return result


def issue(
    session: Session,
    actor: audit.Actor,
    name: CommandName,
    *,
    device_ids: Sequence[str] = (),
    site_id: int | None = None,
    args: dict[str, Any] | None = None,
    ttl: timedelta | None = None,
    schedule_key: str | None = None,
    pushed: bool = False,
    owned_settings: bool = False,
) -> list[Command]:
    """Store command ``name`` for some devices or for every fitting device of a site.

    Checks the actor's right on every target before storing anything: one refusal refuses all.
    ``pushed``: the caller pushes the commands right after its commit (the API, the schedule),
    so those for online devices are stored ``sent`` at once; the others stay ``queued`` until
    their device connects or a process's sweep finds them. ``owned_settings``: the caller is
    the settings renderer, sending :data:`OWNED_SETTINGS` for the module that keeps them.
    """
    spec = SPECS[name]
    if bool(device_ids) == (site_id is not None):
        raise DomainError(_("name either devices or one site"))
    checked_args = validate_args(name, args) if name is not CommandName.WAKE else {}
    owned = sorted(set(checked_args) & OWNED_SETTINGS.keys())
    if owned and not owned_settings:
        raise DomainError(
            _(
                "%(settings)s cannot be sent as a command: set %(where)s",
                settings=", ".join(owned),
                where=OWNED_SETTINGS[owned[0]],
            ),
            code="owned_setting",
            status=422,
        )
    if device_ids:
        targets = _devices(session, device_ids)
        _require_in_scope(actor, {d.site for d in targets})
        for device in targets:
            if device.kind not in spec.kinds:
                raise DomainError(
                    _(
                        "%(device)s is a %(kind)s: '%(command)s' does not apply to it",
                        device=device.name,
                        kind=device.kind,
                        command=name.value,
                    ),
                    code="not_applicable",
                )
    else:
        site = session.get(Site, site_id)
        if site is None:
            raise NotFound(_("no site %(id)s", id=site_id))
        _require_in_scope(actor, {site})
        targets = [d for d in site.devices if d.kind in spec.kinds]
        if not targets:
            raise DomainError(
                _(
                    "%(site)s has no device that '%(command)s' applies to",
                    site=site.name,
                    command=name.value,
                ),
                code="not_applicable",
            )
    if not isinstance(actor, str):
        for site in {d.site for d in targets}:
            access.require_command(actor, name, site)

    now = utcnow()
    expires_at = now + (ttl or spec.ttl)
    batch_id = str(uuid.uuid4()) if len(targets) > 1 else None
    commands = []
    for device in targets:
        runner, command_args = device, checked_args
        if name is CommandName.WAKE:
            runner, command_args = _wake_plan(session, device)
        online = DeviceStatus(runner.status) is DeviceStatus.ONLINE
        command = Command(
            id=str(uuid.uuid4()),
            name=name,
            args=command_args,
            device_id=device.id,
            runner_id=runner.id,
            site_id=device.site_id,
            state=CommandState.SENT if pushed and online else CommandState.QUEUED,
            sent_at=now if pushed and online else None,
            requested_by_id=audit.actor_id(actor),
            requested_by=audit.actor_name(actor),
            batch_id=batch_id,
            schedule_key=schedule_key and f"{schedule_key}:{device.id}",
            created_at=now,
            expires_at=expires_at,
        )
        session.add(command)
        commands.append(command)
    session.flush()
    for command in commands:
        audit.record(
            session,
            actor,
            "command.issue",
            "device",
            command.device_id,
            f"{in_english(SPECS[name].label)}: {command.device.name}",
            command_id=command.id,
            command=name.value,
            args=shown_args(command.args),
            batch_id=batch_id,
        )
    return commands


def _require_in_scope(actor: audit.Actor, sites: set[Site]) -> None:
    """Refuse targets outside the places a member of staff covers before anything about them
    (a device's name, its kind, what a site holds) appears in an answer."""
    if isinstance(actor, str):
        return
    if any(not access.covers_site(actor, site) for site in sites):
        raise PermissionDenied(_("what you named is outside the places you cover"))


def _devices(session: Session, device_ids: Iterable[str]) -> list[Device]:
    ids = list(dict.fromkeys(device_ids))
    found = {
        d.id: d
        for d in session.scalars(
            select(Device).where(Device.id.in_(ids)).options(selectinload(Device.site))
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(_("no device %(id)s", id=missing[0]))
    return [found[i] for i in ids]


def _wake_plan(session: Session, target: Device) -> tuple[Device, dict[str, Any]]:
    """A neighbour to send the magic packet, and the target's MAC addresses."""
    macs = [
        m.lower()
        for m in (target.inventory or {}).get("macs", [])
        if isinstance(m, str) and m.lower() != "00:00:00:00:00:00"
    ]
    if not macs:
        raise DomainError(
            _("%(device)s has reported no MAC address to wake it with", device=target.name),
            code="not_applicable",
        )
    neighbours = session.scalars(
        select(Device).where(
            Device.site_id == target.site_id,
            Device.id != target.id,
            Device.status == DeviceStatus.ONLINE,
        )
    ).all()
    if not neighbours:
        raise Conflict(
            _(
                "no other device of %(site)s is online to wake %(device)s",
                site=target.site.name,
                device=target.name,
            ),
            code="no_neighbour",
        )
    # A hotspot gateway is always on and on the site's network: the best messenger.
    runner = min(neighbours, key=lambda d: (d.kind != DeviceKind.HOTSPOT, d.name))
    args = validate_args(CommandName.WAKE, {"target_device_id": target.id, "macs": macs[:8]})
    return runner, args


def message_for(command: Command) -> CommandMessage:
    return CommandMessage(
        id=command.id,
        name=CommandName(command.name),
        args=command.args,
        issued_at=command.created_at,
        expires_at=command.expires_at,
    )


def pending_for(session: Session, runner_id: str, now: datetime | None = None) -> list[Command]:
    """Commands the device should receive: not claimed, not finished, not expired."""
    now = now or utcnow()
    states = [CommandState.QUEUED, CommandState.SENT]
    return list(
        session.scalars(
            select(Command)
            .where(
                Command.runner_id == runner_id,
                Command.state.in_(states),
                Command.started_at.is_(None),
                Command.expires_at > now,
            )
            .order_by(Command.created_at)
        )
    )


def queued(session: Session, now: datetime | None = None) -> list[Command]:
    """Every command stored but never pushed (by the CLI, the schedule, another process)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Command)
            .where(Command.state == CommandState.QUEUED, Command.expires_at > now)
            .order_by(Command.created_at)
        )
    )


def mark_sent(session: Session, command_ids: Sequence[str], now: datetime | None = None) -> None:
    if command_ids:
        session.execute(
            update(Command)
            .where(Command.id.in_(command_ids), Command.state == CommandState.QUEUED)
            .values(state=CommandState.SENT, sent_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )


def claim(
    session: Session, runner_id: str, command_id: str, now: datetime | None = None
) -> ClaimAnswer:
    """Grant the device the right to run the command, once; say why not otherwise."""
    now = now or utcnow()
    granted = session.execute(
        update(Command)
        .where(
            Command.id == command_id,
            Command.runner_id == runner_id,
            Command.state.in_([CommandState.QUEUED, CommandState.SENT]),
            Command.started_at.is_(None),
            Command.expires_at > now,
        )
        .values(
            state=CommandState.SENT,
            started_at=now,
            sent_at=func.coalesce(Command.sent_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if granted.rowcount == 1:  # type: ignore[attr-defined]
        return ClaimAnswer(ok=True)
    command = session.get(Command, command_id, populate_existing=True)
    if command is None or command.runner_id != runner_id:
        return ClaimAnswer(ok=False, reason="unknown", message="no such command for this device")
    if command.started_at is not None and CommandState(command.state) is CommandState.SENT:
        # The same device asking again: its first answer was lost on the way (a dropped
        # Socket.IO call, retried over HTTP). The device remembers what it ran, so granting it
        # again cannot run it twice, while refusing would leave it never run.
        return ClaimAnswer(ok=True)
    if command.started_at is not None or CommandState(command.state) in (
        CommandState.DONE,
        CommandState.FAILED,
    ):
        return ClaimAnswer(ok=False, reason="claimed", message="this command was already run")
    if CommandState(command.state) is not CommandState.EXPIRED:
        _expire(session, [command], now)
    return ClaimAnswer(
        ok=False,
        reason="expired",
        message=f"this command expired at {command.expires_at:%H:%M:%S} UTC",
    )


def record_result(
    session: Session, runner_id: str, result: CommandResult, now: datetime | None = None
) -> Command | None:
    """Store how a claimed command ended; results for commands never claimed are ignored."""
    command = session.get(Command, result.command_id, populate_existing=True)
    if (
        command is None
        or command.runner_id != runner_id
        or command.started_at is None
        or CommandState(command.state).finished
    ):
        return None
    command.state = CommandState.DONE if result.ok else CommandState.FAILED
    command.output = result.output
    command.duration_ms = result.duration_ms
    command.finished_at = now or utcnow()
    audit.record(
        session,
        "device",
        "command.result",
        "device",
        command.device_id,
        f"{in_english(SPECS[CommandName(command.name)].label)}: {command.state}",
        command_id=command.id,
        ok=result.ok,
        duration_ms=result.duration_ms,
        output=result.output[-500:],
    )
    session.flush()
    return command


def expire_overdue(session: Session, now: datetime | None = None) -> list[Command]:
    """Expire unclaimed commands past their deadline; fail claimed ones that never reported."""
    now = now or utcnow()
    unclaimed = list(
        session.scalars(
            select(Command).where(
                Command.state.in_([CommandState.QUEUED, CommandState.SENT]),
                Command.started_at.is_(None),
                Command.expires_at <= now,
            )
        )
    )
    silent = list(
        session.scalars(
            select(Command).where(
                Command.state == CommandState.SENT,
                Command.started_at.is_not(None),
                Command.expires_at <= now - RESULT_GRACE,
            )
        )
    )
    _expire(session, unclaimed, now)
    for command in silent:
        command.state = CommandState.FAILED
        command.output = "the device claimed this command but never reported how it ended"
        command.finished_at = now
        audit.record(
            session,
            "system",
            "command.result",
            "device",
            command.device_id,
            "no result from the device",
            command_id=command.id,
            ok=False,
        )
    return unclaimed + silent


def _expire(session: Session, commands: Sequence[Command], now: datetime) -> None:
    for command in commands:
        command.state = CommandState.EXPIRED
        command.finished_at = now
        audit.record(
            session,
            "system",
            "command.expire",
            "device",
            command.device_id,
            f"{in_english(SPECS[CommandName(command.name)].label)}: expired unclaimed",
            command_id=command.id,
        )
    session.flush()


def visible_commands(user: StaffMember) -> Select[tuple[Command]]:
    return select(Command).where(
        Command.site_id.in_(places.visible_sites_query(user).with_only_columns(Site.id))
    )


def list_commands(
    session: Session,
    user: StaffMember,
    *,
    device_id: str | None = None,
    site_id: int | None = None,
    limit: int = 50,
) -> list[Command]:
    access.require(user, Action.VIEW_FLEET)
    query = visible_commands(user).options(selectinload(Command.device))
    if device_id is not None:
        query = query.where(Command.device_id == device_id)
    if site_id is not None:
        query = query.where(Command.site_id == site_id)
    return list(session.scalars(query.order_by(Command.created_at.desc()).limit(limit)))


def get_command(session: Session, user: StaffMember, command_id: str) -> Command:
    command = session.get(Command, command_id)
    if command is None:
        raise NotFound(_("no command %(id)s", id=command_id))
    if not access.covers_site(user, command.site):
        raise PermissionDenied(
            _("%(site)s is outside the places you cover", site=command.site.name)
        )
    return command


def summary(command: Command) -> dict[str, Any]:
    """What pages and the API show of a command (JSON-ready)."""
    return {
        "id": command.id,
        "name": command.name,
        "label": str(SPECS[CommandName(command.name)].label),
        "device_id": command.device_id,
        "runner_id": command.runner_id,
        "site_id": command.site_id,
        "state": command.state,
        "requested_by": command.requested_by,
        "created_at": command.created_at.isoformat(),
        "expires_at": command.expires_at.isoformat(),
        "started_at": command.started_at.isoformat() if command.started_at else None,
        "finished_at": command.finished_at.isoformat() if command.finished_at else None,
        "output": command.output,
        "outcome": outcome_of(command),
        "duration_ms": command.duration_ms,
        "args": shown_args(command.args),
    }


def shown_args(args: dict[str, Any]) -> dict[str, Any]:
    """A command's arguments as people may see them: secrets replaced by :data:`HIDDEN`."""
    return {key: HIDDEN if key in SECRET_ARGS else value for key, value in args.items()}

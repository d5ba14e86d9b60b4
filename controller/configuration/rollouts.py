"""Rollouts: a layer's new version carried to the devices whose settings it changes.

Three ways, as city IT runs changes on a fleet of public places:
- **now**: every device at once;
- **waves**: one site first; the others once every device of that site has applied it (the
  check). A device of the first site that fails halts the rollout: the rest keeps its previous
  settings until a person looks (``resume``) or rolls back;
- **scheduled**: at a set time, each device a random number of seconds later (``spread_s``), so
  that a thousand PCs do not act in the same second.

Whichever way, a rollout that changes the release of borne a device runs (``agent_version``,
``upgrades_agent``) halts at the first device that fails: its agent did not come back on the new
release and put the previous one back, and the next PCs would likely do the same.

An agent too old to upgrade itself (it does not list ``AgentFeature.AGENT_UPGRADE``: it would
refuse the whole command) is not sent the rollout at all and keeps its previous settings; its
target fails at once with "this agent cannot upgrade itself: re-provision it", which halts the
rollout like any failed upgrade. That is what a city expects: the devices left behind are named
(not waiting forever, nor silently skipped while the page says "applied"), the rest waits for a
person, who re-provisions them (``borne provision bootstrap`` installs the current release) and
resumes past them. Settings that are not an upgrade go to such an agent without the release.

Each device's state is its command's: pending (not sent yet), sent, applied, or failed with the
agent's answer (an agent that cannot apply settings keeps its previous ones and says why).
Every controller process runs :func:`advance` periodically; a target is claimed by setting its
command in a transaction (PostgreSQL: ``FOR UPDATE SKIP LOCKED``), so two processes never send a
device the same version twice.
"""

from __future__ import annotations

import enum
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, undefer

from controller import audit
from controller.commands.models import Command, CommandState
from controller.config import ControllerSettings
from controller.configuration import catalogue, layers, releases, render
from controller.configuration.models import (
    ConfigLayer,
    Rollout,
    RolloutState,
    RolloutStrategy,
    RolloutTarget,
)
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound
from controller.fleet import features
from controller.fleet.models import Device
from controller.i18n import _

# The actor the periodic job issues later waves and scheduled targets as (the audit log says
# who started the rollout).
ROLLOUT_ACTOR = "rollout"
# The actor a newly enrolled device is sent the release its layers name as.
ENROLMENT_ACTOR = "system"
# Longest random spread of a scheduled rollout: a day.
MAX_SPREAD_S = 86_400
# The note of a target whose agent is too old to upgrade itself (kept in English, like the
# notes of skipped targets; shown in the reader's language).
CANNOT_UPGRADE = "this agent cannot upgrade itself: re-provision it"
# Targets a process sends in one run of the job (the next run takes the rest). Measured with
# bench/rollout on 5,000 agents: 2,000 a run had every device applied sooner (27 s) than the
# whole second wave at once (34 s), whose claims all arrive together.
BATCH = 2_000


class TargetState(enum.StrEnum):
    PENDING = "pending"  # not sent yet: a later wave, or due later
    SENT = "sent"  # on its way; the device has not answered yet
    APPLIED = "applied"
    FAILED = "failed"  # refused by the device, or never delivered (it keeps its previous ones)
    SKIPPED = "skipped"  # a newer version of the same layer took over before it was sent


@dataclass(frozen=True)
class TargetView:
    device_id: str
    device_name: str
    site_name: str
    wave: int
    due_at: datetime
    state: TargetState
    answer: str


def target_state(target: RolloutTarget) -> tuple[TargetState, str]:
    command = target.command
    if command is None:
        if target.note == CANNOT_UPGRADE:
            return TargetState.FAILED, _("this agent cannot upgrade itself: re-provision it")
        if target.note:
            return TargetState.SKIPPED, target.note
        return TargetState.PENDING, ""
    match command.state:
        case CommandState.DONE:
            return TargetState.APPLIED, command.output
        case CommandState.FAILED:
            return TargetState.FAILED, command.output
        case CommandState.EXPIRED:
            return TargetState.FAILED, _("not delivered: the device was away until it expired")
        case _:
            return TargetState.SENT, ""


def change(
    session: Session,
    actor: audit.Actor,
    target: layers.Target,
    new_settings: object,
    settings: ControllerSettings,
    *,
    strategy: str = RolloutStrategy.NOW,
    first_site_id: int | None = None,
    at: datetime | None = None,
    spread_s: int = 0,
    note: str = "",
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> tuple[Rollout, list[Command]]:
    """Save ``target``'s layer as ``new_settings`` (a new version) and roll it out.

    Everything is checked before anything is written: the settings, the strategy and its
    parameters. Returns the rollout and the commands sent at once (the caller pushes them after
    its commit)."""
    now = now or utcnow()
    how = _strategy(strategy)
    plan = layers.preview(session, actor, target, new_settings, settings)
    if plan.layer_before == plan.layer_after:
        raise DomainError(_("these are already the layer's settings: nothing to change"))
    sites = {c.site_id: c.site_name for c in plan.devices}
    if how is RolloutStrategy.WAVES:
        first_site_id = _first_site(first_site_id, sites)
    if how is RolloutStrategy.SCHEDULED:
        at = _schedule(at, spread_s, now)
    layer = layers.save_version(session, actor, target, plan.layer_after, note=note)
    _supersede(session, layer)
    rollout = Rollout(
        layer=layer,
        version=layer.version,
        strategy=how,
        upgrades_agent=any(_upgrades_agent(c) for c in plan.devices),
        first_site_id=first_site_id if how is RolloutStrategy.WAVES else None,
        starts_at=at if how is RolloutStrategy.SCHEDULED and at else now,
        spread_s=spread_s if how is RolloutStrategy.SCHEDULED else 0,
        created_by=audit.actor_name(actor),
    )
    session.add(rollout)
    draw = rng or random.SystemRandom()
    for device_change in plan.devices:
        wave = 1
        due = rollout.starts_at
        if how is RolloutStrategy.WAVES and device_change.site_id != first_site_id:
            wave = 2
        if how is RolloutStrategy.SCHEDULED:
            due = rollout.starts_at + timedelta(seconds=draw.uniform(0, spread_s))
        session.add(
            RolloutTarget(
                rollout=rollout,
                device_id=device_change.device_id,
                wave=wave,
                due_at=due,
                args=_layered_args(device_change.after),
            )
        )
    session.flush()
    audit.record(
        session,
        actor,
        "config.rollout",
        "rollout",
        rollout.id,
        f"version {layer.version} of {target.scope.value} {target.name} to "
        f"{len(plan.devices)} device(s), {how.value}",
        strategy=how.value,
        devices=len(plan.devices),
        first_site=sites.get(first_site_id) if first_site_id else None,
        at=at.isoformat() if at else None,
        spread_s=spread_s or None,
    )
    issued = _dispatch(session, actor, rollout, now)
    _finish_if_over(rollout)
    return rollout, issued


def rollback(
    session: Session,
    actor: audit.Actor,
    target: layers.Target,
    to_version: int,
    settings: ControllerSettings,
    *,
    now: datetime | None = None,
) -> tuple[Rollout, list[Command]]:
    """Go back to an earlier version of ``target``'s layer: a new version equal to it, rolled
    out at once (the history keeps both)."""
    layer = layers.layer_of(session, target)
    if layer is None:
        raise NotFound(_("%(place)s has no settings of its own yet", place=target.name))
    old = layers.version_settings(session, layer, to_version)
    return change(
        session,
        actor,
        target,
        old,
        settings,
        note=f"rollback to version {to_version}",
        now=now,
    )


def advance(session: Session, now: datetime | None = None) -> list[Command]:
    """The periodic job's work: send what is due, open second waves whose first passed the
    check, halt those whose first failed, and close rollouts that are over."""
    now = now or utcnow()
    issued: list[Command] = []
    running = session.scalars(
        select(Rollout)
        .where(Rollout.state == RolloutState.RUNNING)
        .options(selectinload(Rollout.targets).selectinload(RolloutTarget.command))
        .order_by(Rollout.id)
    ).all()
    for rollout in running:
        reason = _halt_reason(rollout)
        if reason is not None:
            rollout.state = RolloutState.HALTED
            audit.record(
                session,
                ROLLOUT_ACTOR,
                "config.rollout_halted",
                "rollout",
                rollout.id,
                f"rollout {rollout.id} halted: {reason}",
                reason=reason,
            )
            continue
        issued += _dispatch(session, ROLLOUT_ACTOR, rollout, now)
        _finish_if_over(rollout)
    return issued


def resume(session: Session, actor: audit.Actor, rollout_id: int) -> list[Command]:
    """Send the rest of a halted rollout anyway (a person looked at the failures so far: only
    a further one halts it again)."""
    rollout = get_rollout(session, actor, rollout_id)
    if rollout.state != RolloutState.HALTED:
        raise Conflict(
            _("only a halted rollout can be resumed; this one is %(state)s", state=rollout.state)
        )
    layers.find_target(session, actor, rollout.layer.scope, rollout.layer.target_id)
    rollout.state = RolloutState.RUNNING
    rollout.first_site_id = None  # the check is passed over: every wave is open
    rollout.failures_accepted = len(_failed(rollout))
    audit.record(
        session,
        actor,
        "config.rollout_resumed",
        "rollout",
        rollout.id,
        f"rollout {rollout.id} resumed",
    )
    issued = _dispatch(session, actor, rollout, utcnow(), every_wave=True)
    _finish_if_over(rollout)
    return issued


def get_rollout(session: Session, actor: audit.Actor, rollout_id: int) -> Rollout:
    rollout = session.get(Rollout, rollout_id)
    if rollout is None:
        raise NotFound(_("no rollout %(rollout)s", rollout=rollout_id))
    target = layers.find_target(session, actor, rollout.layer.scope, rollout.layer.target_id)
    layers.layers_for_read(session, actor, target)
    return rollout


def targets_of(rollout: Rollout) -> list[TargetView]:
    session = Session.object_session(rollout)
    assert session is not None
    # The devices not sent anything yet in one query (those sent come with their command).
    unsent = _devices_of(session, [t for t in rollout.targets if t.command is None])
    views = []
    for target in rollout.targets:
        state, answer = target_state(target)
        device = target.command.device if target.command else unsent[target.device_id]
        views.append(
            TargetView(
                target.device_id,
                device.name,
                device.site.name,
                target.wave,
                target.due_at,
                state,
                answer,
            )
        )
    return views


def agent_versions(rollout: Rollout) -> list[str]:
    """The releases of borne an upgrading rollout sends (one, unless device layers differ)."""
    found = {t.args[catalogue.AGENT_VERSION] for t in rollout.targets if _version_in(t.args)}
    return sorted(found)


def upgrade_enrolled(
    session: Session, device_id: str, settings: ControllerSettings
) -> list[Command]:
    """A device just enrolled whose layers name another release of borne than the one its
    inventory says it runs is sent its layered settings at once, as a rollout would, so that
    a PC added to a site pinned to a release converges (enrolment itself gives no release:
    an upgrade is a command the device answers once the new release is connected)."""
    device = session.get(Device, device_id)
    if device is None or device.retired_at is not None:
        return []
    in_force = layers.effective(session, device, settings)
    values = {name: value for name, (value, _source) in in_force.items()}
    if not _needs_release(device, values.get(catalogue.AGENT_VERSION)):
        return []
    if not features.reads(device, catalogue.AGENT_VERSION):
        return []  # it would get only what enrolment just gave it
    return render.send_settings(
        session,
        ENROLMENT_ACTOR,
        [device],
        _layered_args(values),
        owner=render.Owner.LAYERS,
        pushed=True,
    )


def counts(rollout: Rollout) -> dict[TargetState, int]:
    found: dict[TargetState, int] = defaultdict(int)
    for target in rollout.targets:
        found[target_state(target)[0]] += 1
    return {state: found[state] for state in TargetState}


def _dispatch(
    session: Session,
    actor: audit.Actor,
    rollout: Rollout,
    now: datetime,
    *,
    every_wave: bool = False,
) -> list[Command]:
    """Send the rollout's targets that are due and whose wave is open."""
    if rollout.state != RolloutState.RUNNING:
        return []
    waves = {1, 2} if every_wave or not _first_wave_pending(rollout) else {1}
    due = session.scalars(
        select(RolloutTarget)
        .where(
            RolloutTarget.rollout_id == rollout.id,
            RolloutTarget.command_id.is_(None),
            RolloutTarget.note == "",
            RolloutTarget.wave.in_(waves),
            RolloutTarget.due_at <= now,
        )
        .order_by(RolloutTarget.due_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    devices = _devices_of(session, due)
    by_args: dict[str, list[RolloutTarget]] = defaultdict(list)
    for target in due:
        if rollout.upgrades_agent and _cannot_upgrade(devices[target.device_id], target.args):
            target.note = CANNOT_UPGRADE  # failed: it halts the rollout (_halt_reason)
            continue
        by_args[_key(target.args)].append(target)
    issued: list[Command] = []
    for group in by_args.values():
        sent = render.send_settings(
            session,
            actor,
            [devices[t.device_id] for t in group],
            group[0].args,
            owner=render.Owner.LAYERS,
            pushed=True,
        )
        by_device = {c.device_id: c for c in sent}
        for target in group:
            if target.device_id in by_device:
                target.command = by_device[target.device_id]
            else:  # its agent reads none of them: nothing to wait for
                target.note = "its agent reads none of these settings"
        issued += sent
    session.flush()
    return issued


def _devices_of(session: Session, targets: Sequence[RolloutTarget]) -> dict[str, Device]:
    """The targets' devices with what says which settings they read and which release they
    run, in one query."""
    found = session.scalars(
        select(Device)
        .where(Device.id.in_([t.device_id for t in targets]))
        .options(undefer(Device.metrics), undefer(Device.inventory))
    )
    return {device.id: device for device in found}


def _cannot_upgrade(device: Device, args: dict[str, Any]) -> bool:
    """Whether ``args`` ask ``device`` to run another release than its own, which its agent
    cannot do (it would refuse the whole command)."""
    return _needs_release(device, args.get(catalogue.AGENT_VERSION)) and not features.reads(
        device, catalogue.AGENT_VERSION
    )


def _needs_release(device: Device, wanted: str | None) -> bool:
    """Whether ``wanted`` names another release of borne than the one ``device`` reports."""
    runs = str((device.inventory or {}).get("agent_version") or "")
    return wanted is not None and not releases.same_version(wanted, runs)


def _halt_reason(rollout: Rollout) -> str | None:
    """Why a running rollout must wait for a person now, or None.

    An agent upgrade: any failed device beyond those a person resumed past. Settings in waves:
    a failed device of the first site, until a person resumes (the check is then over)."""
    failed = _failed(rollout)
    if rollout.upgrades_agent:
        if len(failed) > rollout.failures_accepted:
            newest = failed[rollout.failures_accepted]
            if newest.note == CANNOT_UPGRADE:
                return f"{_device(newest).name} cannot upgrade itself: re-provision it"
            return f"an agent upgrade failed on {_device(newest).name}"
        return None
    first_wave_checked = (
        rollout.strategy == RolloutStrategy.WAVES and rollout.first_site_id is not None
    )
    if first_wave_checked and any(t.wave == 1 for t in failed):
        return "a device of the first site failed to apply"
    return None


def _failed(rollout: Rollout) -> list[RolloutTarget]:
    """The rollout's failures that count against it, in the order they happened.

    For an agent upgrade, not a device that was away until its command expired without ever
    taking it (a PC switched off for the weekend says nothing of the release), but one that
    took it and never answered (it died installing, guard and all) counts."""
    failed = [
        t
        for t in rollout.targets
        if target_state(t)[0] is TargetState.FAILED
        and not (rollout.upgrades_agent and _never_taken(t))
    ]
    return sorted(failed, key=_failed_at)


def _never_taken(target: RolloutTarget) -> bool:
    command = target.command
    return command is not None and command.state == CommandState.EXPIRED and not command.started_at


def _failed_at(target: RolloutTarget) -> datetime:
    command = target.command
    if command is None:  # an agent that cannot upgrade: failed when it was due
        return target.due_at
    return command.finished_at or command.expires_at


def _upgrades_agent(change: layers.DeviceChange) -> bool:
    """Whether the change sends a device another release (one that stops naming a release
    sends none: the device keeps what it runs)."""
    after = change.after.get(catalogue.AGENT_VERSION)
    return after is not None and after != change.before.get(catalogue.AGENT_VERSION)


def _version_in(args: dict[str, Any]) -> bool:
    return args.get(catalogue.AGENT_VERSION) is not None


def _first_wave_pending(rollout: Rollout) -> bool:
    if rollout.strategy != RolloutStrategy.WAVES or rollout.first_site_id is None:
        return False
    first = [t for t in rollout.targets if t.wave == 1]
    return any(target_state(t)[0] is not TargetState.APPLIED for t in first)


def _finish_if_over(rollout: Rollout) -> None:
    states = [target_state(t)[0] for t in rollout.targets]
    if all(s in (TargetState.APPLIED, TargetState.FAILED, TargetState.SKIPPED) for s in states):
        rollout.state = RolloutState.DONE
        rollout.finished_at = utcnow()


def _supersede(session: Session, layer: ConfigLayer) -> None:
    """Older rollouts of the layer stop: their unsent targets will get the new version."""
    older = session.scalars(
        select(Rollout).where(
            Rollout.layer_id == layer.id,
            Rollout.state.in_([RolloutState.RUNNING, RolloutState.HALTED]),
        )
    ).all()
    for rollout in older:
        rollout.state = RolloutState.SUPERSEDED
        rollout.finished_at = utcnow()
        for target in rollout.targets:
            if target.command_id is None:
                target.note = f"replaced by version {layer.version}"


def _strategy(strategy: str) -> RolloutStrategy:
    try:
        return RolloutStrategy(strategy)
    except ValueError:
        raise DomainError(
            _(
                "a rollout goes %(known)s, not %(strategy)s",
                known=", ".join(s.value for s in RolloutStrategy),
                strategy=repr(strategy),
            ),
            status=422,
        ) from None


def _first_site(first_site_id: int | None, sites: dict[int, str]) -> int | None:
    if not sites:
        return None  # no device's settings change: the new version is only kept
    if first_site_id is None:
        # The smallest change first: the site named first in alphabetical order.
        return min(sites, key=lambda site_id: sites[site_id])
    if first_site_id not in sites:
        raise DomainError(
            _(
                "the first wave must be a site whose devices this change reaches: %(sites)s",
                sites=", ".join(sorted(sites.values())),
            ),
            status=422,
        )
    return first_site_id


def _schedule(at: datetime | None, spread_s: int, now: datetime) -> datetime:
    if at is None:
        raise DomainError(_("a scheduled rollout needs the time to start"), status=422)
    if at.tzinfo is None:
        raise DomainError(_("the start time must say its time zone"), status=422)
    if at < now - timedelta(minutes=1):
        raise DomainError(_("the start time is in the past"), status=422)
    if not 0 <= spread_s <= MAX_SPREAD_S:
        raise DomainError(
            _("the spread must be between 0 and %(most)d seconds", most=MAX_SPREAD_S), status=422
        )
    return at


def _layered_args(values: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(values.items()))


def _key(args: dict[str, Any]) -> str:
    return repr(sorted(args.items()))


def _device(target: RolloutTarget) -> Device:
    if target.command is not None:
        return target.command.device
    session = Session.object_session(target)
    assert session is not None
    device = session.get(Device, target.device_id)
    assert device is not None
    return device

"""Alert rules: what monitoring watches on every device, each a threshold and a tolerance.

A rule's condition must hold for its tolerance (minutes in breach) before an alert is raised, so
a ten-minute spike of CPU while a resident installs a printer raises nothing; a disk over 90 %
raises at once, as there is nothing to wait for. The defaults are in code (:data:`DEFAULTS`,
OpenWISP's to start with); an organisation may change a rule's threshold and tolerance, or turn
it off (:class:`~controller.maintenance.models.AlertRuleOverride`).

:func:`evaluate` runs every minute (setting ``alert_rules_interval_s``) in every controller
process. For each device it keeps an :class:`~controller.maintenance.models.AlertBreach` per
condition seen true (since when), raises
the alert once the breach is older than the tolerance, and when the condition is false again it
drops the breach and resolves the alert, saying what it saw ("back online", "disk at 42 %").
What cannot be seen now (the CPU of a device that is off, whether a PC is off-line while its
site is closed) is neither a breach nor a cure: the breach goes, an open alert stays open.

Off-line counts only while the site is open (its opening hours, exceptional closures and public
holidays; a site without hours counts as always open): a PC switched off at night by the
schedule is not an alert. A device out of service for a repair raises nothing new.

A wipe that left something of a resident is not a rule: each wipe report raises or resolves its
alert itself (:mod:`controller.public_pcs.service`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Flask
from flask_babel import LazyString
from packaging.version import InvalidVersion, Version
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, undefer

from agent.protocol import DeviceKind, PrinterState
from controller import access, audit
from controller.access import Action, Role
from controller.context import database_of, settings_of
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _, _l
from controller.maintenance import service as alerts
from controller.maintenance.models import Alert, AlertBreach, AlertKind, AlertRuleOverride
from controller.places.models import Organisation, Site, SiteClosure
from controller.places.opening_hours import Closure, SchedulePolicy, open_intervals

log = logging.getLogger(__name__)

# A tolerance longer than a month is a unit mistaken (seconds for minutes).
MAX_TOLERANCE_MIN = 30 * 24 * 60


class Unit(StrEnum):
    """What a rule's threshold counts."""

    PERCENT = "percent"
    SECONDS = "seconds"


@dataclass(frozen=True)
class RuleDefault:
    """A rule as the code sets it: what an organisation gets unless it says otherwise."""

    kind: AlertKind
    threshold: float | None  # None: the rule takes no threshold (off-line, printer in error)
    tolerance_min: int
    unit: Unit | None
    meaning: LazyString  # what the rule watches, for the people who tune it
    threshold_range: tuple[float, float] = (0.0, 100.0)


DEFAULTS: dict[AlertKind, RuleDefault] = {
    rule.kind: rule
    for rule in (
        # Three heartbeats missed already make a device off-line; ten minutes more let a PC
        # that the schedule woke late, or that a mediator restarts, come back first.
        RuleDefault(
            AlertKind.OFFLINE,
            None,
            10,
            None,
            _l("The device does not answer while its site is open."),
        ),
        RuleDefault(
            AlertKind.CPU_HIGH,
            90.0,
            30,
            Unit.PERCENT,
            _l("The processor is busier than the threshold."),
        ),
        RuleDefault(
            AlertKind.MEMORY_HIGH,
            95.0,
            30,
            Unit.PERCENT,
            _l("The memory in use is over the threshold."),
        ),
        # A full disk does not empty itself: no reason to wait.
        RuleDefault(
            AlertKind.DISK_FULL,
            90.0,
            0,
            Unit.PERCENT,
            _l("A disk is fuller than the threshold."),
        ),
        # The hotspot says the portal is not running once its statistics are a minute old.
        RuleDefault(
            AlertKind.PORTAL_DOWN,
            None,
            5,
            None,
            _l("The wifi portal of a hotspot is not running: residents cannot get online."),
        ),
        # A jam a mediator clears in a few minutes is not worth an alert.
        RuleDefault(
            AlertKind.PRINTER_ERROR,
            None,
            10,
            None,
            _l("A printer is stopped or reports an error (jam, no paper, no toner)."),
        ),
        RuleDefault(
            AlertKind.CLOCK_OFF,
            alerts.CLOCK_TOLERANCE.total_seconds(),
            0,
            Unit.SECONDS,
            _l("The device's clock is further off the controller's than the threshold."),
            threshold_range=(1.0, 86_400.0),
        ),
        # A new controller makes every agent outdated at once: a week lets a rollout in waves
        # reach them before anyone is told.
        RuleDefault(
            AlertKind.AGENT_OUTDATED,
            None,
            7 * 24 * 60,
            None,
            _l("The device's agent is older than the controller."),
        ),
    )
}


@dataclass(frozen=True)
class Rule:
    """A rule in force for one organisation: its default, or the organisation's own."""

    kind: AlertKind
    threshold: float | None
    tolerance_min: int
    enabled: bool = True
    overridden: bool = False  # False: the default

    @property
    def tolerance(self) -> timedelta:
        return timedelta(minutes=self.tolerance_min)


def default_rules() -> dict[AlertKind, Rule]:
    return {kind: Rule(kind, d.threshold, d.tolerance_min) for kind, d in DEFAULTS.items()}


def _with_overrides(overrides: Iterable[AlertRuleOverride]) -> dict[AlertKind, Rule]:
    rules = default_rules()
    for override in overrides:
        kind = AlertKind(override.kind)
        if kind not in DEFAULTS:
            continue  # a kind that stopped being a rule
        rules[kind] = Rule(
            kind,
            override.threshold if override.threshold is not None else DEFAULTS[kind].threshold,
            override.tolerance_min,
            override.enabled,
            overridden=True,
        )
    return rules


def effective_rules(session: Session, organisation_id: int) -> dict[AlertKind, Rule]:
    """The rules in force for an organisation: the defaults, then its overrides."""
    return _with_overrides(
        session.scalars(
            select(AlertRuleOverride).where(AlertRuleOverride.organisation_id == organisation_id)
        )
    )


def visible_rules(
    session: Session, viewer: audit.Actor
) -> list[tuple[Organisation, dict[AlertKind, Rule]]]:
    """The rules in force for each organisation ``viewer`` covers (a site covered shows its
    organisation's), by organisation name; every organisation for admins and the command line."""
    query = select(Organisation).order_by(Organisation.name)
    if not isinstance(viewer, str):
        access.require(viewer, Action.VIEW_FLEET)
        if not access.is_city_wide(viewer):
            org_ids, site_ids = access.covered_ids(viewer)
            of_sites = select(Site.organisation_id).where(Site.id.in_(site_ids))
            query = query.where(or_(Organisation.id.in_(org_ids), Organisation.id.in_(of_sites)))
    organisations = list(session.scalars(query))
    overrides: dict[int, list[AlertRuleOverride]] = {}
    for override in session.scalars(
        select(AlertRuleOverride).where(
            AlertRuleOverride.organisation_id.in_([o.id for o in organisations])
        )
    ):
        overrides.setdefault(override.organisation_id, []).append(override)
    return [(o, _with_overrides(overrides.get(o.id, []))) for o in organisations]


def rule_kind(kind: str) -> AlertKind:
    """The kind of alert a rule is named by, or 404 saying which rules there are."""
    try:
        known = AlertKind(kind)
    except ValueError:
        known = None
    if known is None or known not in DEFAULTS:
        if known is AlertKind.WIPE_INCOMPLETE:
            raise NotFound(
                _(
                    "%(kind)s alerts come from each wipe report, not from a rule: there is "
                    "nothing to set",
                    kind=known.value,
                ),
                code="no_such_alert_rule",
            )
        raise NotFound(
            _(
                "no alert rule %(kind)s; the rules are %(known)s",
                kind=repr(kind[:40]),
                known=", ".join(DEFAULTS),
            ),
            code="no_such_alert_rule",
        )
    return known


def _require_may_tune(actor: audit.Actor, organisation: Organisation) -> None:
    """An admin, or a technician covering the whole organisation (a site of it is not enough:
    the rules apply to all its sites); the command line may."""
    if isinstance(actor, str):
        return
    role = Role(actor.role)
    org_ids, _site_ids = access.covered_ids(actor)
    if actor.active and (
        role is Role.ADMIN or (role is Role.TECHNICIAN and organisation.id in org_ids)
    ):
        return
    raise PermissionDenied(
        _(
            "only an admin, or a technician covering %(organisation)s, may change its alert rules",
            organisation=organisation.name,
        )
    )


def _organisation(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(_("no organisation %(ref)s", ref=organisation_id))
    return organisation


def _invalid(message: str) -> DomainError:
    return DomainError(message, code="invalid_alert_rule", status=422)


def _validate(kind: AlertKind, threshold: float | None, tolerance_min: int) -> None:
    default = DEFAULTS[kind]
    if threshold is not None:
        if default.unit is None:
            raise _invalid(
                _(
                    "the %(kind)s rule takes no threshold, only a tolerance: leave the "
                    "threshold out",
                    kind=kind.value,
                )
            )
        low, high = default.threshold_range
        if not (math.isfinite(threshold) and low <= threshold <= high):
            if default.unit is Unit.PERCENT:
                raise _invalid(
                    _(
                        "the %(kind)s threshold is a percentage: between %(low)g and %(high)g, "
                        "not %(value)s",
                        kind=kind.value,
                        low=low,
                        high=high,
                        value=repr(threshold),
                    )
                )
            raise _invalid(
                _(
                    "the %(kind)s threshold is in seconds: between %(low)g and %(high)g, "
                    "not %(value)s",
                    kind=kind.value,
                    low=low,
                    high=high,
                    value=repr(threshold),
                )
            )
    if not 0 <= tolerance_min <= MAX_TOLERANCE_MIN:
        raise _invalid(
            _(
                "the tolerance is a number of minutes between 0 (at once) and %(most)d, "
                "not %(value)s",
                most=MAX_TOLERANCE_MIN,
                value=repr(tolerance_min),
            )
        )


def _described(rule: Rule) -> str:
    """A rule in the audit log's words: "over 80 % for 15 min", "off"."""
    if not rule.enabled:
        return "off"
    unit = DEFAULTS[rule.kind].unit
    over = ""
    if rule.threshold is not None:
        over = f"over {rule.threshold:g} {'%' if unit is Unit.PERCENT else 's'} "
    return f"{over}for {rule.tolerance_min} min" if rule.tolerance_min else f"{over}at once"


def _as_detail(rule: Rule) -> dict[str, Any]:
    return {
        "threshold": rule.threshold,
        "tolerance_min": rule.tolerance_min,
        "enabled": rule.enabled,
        "overridden": rule.overridden,
    }


def set_override(
    session: Session,
    actor: audit.Actor,
    organisation_id: int,
    kind: str,
    threshold: float | None,
    tolerance_min: int,
    enabled: bool = True,
) -> Rule:
    """Set an organisation's own threshold and tolerance for one rule, or turn it off.

    ``threshold`` None keeps the default threshold. Nothing changes unless every value is
    valid (404 for an unknown organisation or rule, 403, 422); the change is audited.
    """
    organisation = _organisation(session, organisation_id)
    _require_may_tune(actor, organisation)
    alert_kind = rule_kind(kind)
    _validate(alert_kind, threshold, tolerance_min)
    before = effective_rules(session, organisation.id)[alert_kind]
    try:
        with session.begin_nested():
            override = session.scalar(
                select(AlertRuleOverride).where(
                    AlertRuleOverride.organisation_id == organisation.id,
                    AlertRuleOverride.kind == alert_kind,
                )
            )
            if override is None:
                override = AlertRuleOverride(organisation_id=organisation.id, kind=alert_kind)
                session.add(override)
            override.threshold = None if threshold is None else float(threshold)
            override.tolerance_min = tolerance_min
            override.enabled = enabled
            override.changed_at = utcnow()
            session.flush()
    except IntegrityError:
        # Two people set the same rule's first override at once: the other one's stands.
        raise Conflict(_("someone else changed this rule at the same moment: try again")) from None
    after = effective_rules(session, organisation.id)[alert_kind]
    audit.record(
        session,
        actor,
        "alert_rule.set",
        "organisation",
        organisation.id,
        f"alert rule {alert_kind.value} of {organisation.name}: {_described(after)}",
        kind=alert_kind.value,
        before=_as_detail(before),
        after=_as_detail(after),
    )
    return after


def clear_override(session: Session, actor: audit.Actor, organisation_id: int, kind: str) -> Rule:
    """Give an organisation the default of one rule again; returns the rule now in force.

    Clearing a rule that has no override changes nothing and records nothing.
    """
    organisation = _organisation(session, organisation_id)
    _require_may_tune(actor, organisation)
    alert_kind = rule_kind(kind)
    override = session.scalar(
        select(AlertRuleOverride).where(
            AlertRuleOverride.organisation_id == organisation.id,
            AlertRuleOverride.kind == alert_kind,
        )
    )
    default = default_rules()[alert_kind]
    if override is None:
        return default
    before = effective_rules(session, organisation.id)[alert_kind]
    session.delete(override)
    session.flush()
    audit.record(
        session,
        actor,
        "alert_rule.clear",
        "organisation",
        organisation.id,
        f"alert rule {alert_kind.value} of {organisation.name} back to the default: "
        f"{_described(default)}",
        kind=alert_kind.value,
        before=_as_detail(before),
    )
    return default


# What the audit log's page says of these actions (the maintenance domain registers them).
ACTION_WORDS = {
    "alert_rule.set": _l("Alert rule changed"),
    "alert_rule.clear": _l("Alert rule back to the default"),
}


# --- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """The condition holds; ``since`` when it began, if known better than "now"."""

    message: str
    since: datetime | None = None


@dataclass(frozen=True)
class Cured:
    """The condition is false: the cause went, in these words."""

    resolution: str


# None: the condition cannot be seen now (no heartbeat to read, the site closed).
Verdict = Breach | Cured | None


@dataclass
class Evaluation:
    """What one evaluation changed: the alerts it raised and those it resolved."""

    raised: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


@cache
def own_version() -> str:
    """This controller's version, as installed; "" when it is not installed (then no agent is
    found outdated)."""
    try:
        return version("borne")
    except PackageNotFoundError:
        return ""


def _parsed_version(text: object) -> Version | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


class SiteHours:
    """Whether each site is open at ``now`` and since when, worked out once per site.

    The closures of the sites asked about are read in one query, at the first question.
    """

    def __init__(self, session: Session, policy: SchedulePolicy, now: datetime, sites: set[int]):
        self.session = session
        self.policy = policy
        self.now = now
        self.sites = sites
        self._closures: dict[int, list[Closure]] | None = None
        self._known: dict[int, tuple[bool, datetime | None]] = {}

    def opening(self, site: Site) -> tuple[bool, datetime | None]:
        """(open now, since when: None when it has no hours and so is always open)."""
        if site.id not in self._known:
            self._known[site.id] = self._opening(site)
        return self._known[site.id]

    def _opening(self, site: Site) -> tuple[bool, datetime | None]:
        if not site.opening_hours.strip():
            return True, None
        try:
            stretches = open_intervals(
                site.opening_hours,
                self.now - timedelta(days=1),
                self.now + timedelta(seconds=1),
                policy=self.policy,
                closures=self._closures_of(site.id),
            )
        except DomainError as exc:  # a bad expression: better an alert too many than none
            log.warning("opening hours of %s unreadable, counted as open: %s", site.slug, exc)
            return True, None
        for opens, closes in stretches:
            if opens <= self.now < closes:
                return True, opens
        return False, None

    def _closures_of(self, site_id: int) -> list[Closure]:
        if self._closures is None:
            self._closures = {}
            recent = (self.now - timedelta(days=2)).date()  # local days: a margin either side
            for row in self.session.scalars(
                select(SiteClosure).where(
                    SiteClosure.site_id.in_(self.sites), SiteClosure.ends_on >= recent
                )
            ):
                self._closures.setdefault(row.site_id, []).append(
                    Closure(row.starts_on, row.ends_on, row.reason)
                )
        return self._closures.get(site_id, [])


@dataclass(frozen=True)
class Context:
    """What the checks need beside the device: the instant, the sites' hours, our version."""

    now: datetime
    hours: SiteHours
    controller_version: Version | None


def _online_metrics(device: Device) -> dict[str, Any] | None:
    """The latest heartbeat's metrics while they describe the device now: it is online."""
    if DeviceStatus(device.status) is not DeviceStatus.ONLINE:
        return None
    metrics = device.metrics or {}
    return metrics if isinstance(metrics, dict) else None


def _percent(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check_offline(device: Device, rule: Rule, context: Context) -> Verdict:
    status = DeviceStatus(device.status)
    if status is DeviceStatus.ONLINE:
        return Cured("back online")
    if status is not DeviceStatus.OFFLINE:
        return None  # enrolled, never heard from yet
    is_open, opened_at = context.hours.opening(device.site)
    if not is_open:
        return None  # switched off at night, or on a closed day: not an alert, not a cure
    went = device.status_changed_at or context.now
    return Breach(
        f"{device.name} is off-line while its site, {device.site.name}, is open.",
        since=max(went, opened_at) if opened_at is not None else went,
    )


def _check_usage(what: str, key: str) -> Callable[[Device, Rule, Context], Verdict]:
    def check(device: Device, rule: Rule, context: Context) -> Verdict:
        metrics = _online_metrics(device)
        value = _percent(metrics.get(key)) if metrics is not None else None
        if value is None or rule.threshold is None:
            return None
        if value > rule.threshold:
            lasted = f" for {rule.tolerance_min} min" if rule.tolerance_min else ""
            return Breach(
                f"The {what} of {device.name} has been over {rule.threshold:g} %{lasted} "
                f"({value:.0f} % now)."
            )
        return Cured(f"{what} at {value:.0f} %")

    return check


def fullest_disk(metrics: dict[str, Any]) -> tuple[str, float] | None:
    """The mount point of the fullest disk in a heartbeat's metrics, and how full (%)."""
    fullest: tuple[str, float] | None = None
    for disk in metrics.get("disks") or []:
        if not isinstance(disk, dict):
            continue
        percent = _percent(disk.get("percent"))
        if percent is not None and (fullest is None or percent > fullest[1]):
            fullest = (str(disk.get("mountpoint", "")), percent)
    return fullest


def check_disk(device: Device, rule: Rule, context: Context) -> Verdict:
    metrics = _online_metrics(device)
    fullest = fullest_disk(metrics) if metrics is not None else None
    if fullest is None or rule.threshold is None:
        return None
    mountpoint, percent = fullest
    if percent > rule.threshold:
        return Breach(
            f"The disk {mountpoint} of {device.name} is {percent:.0f} % full (over "
            f"{rule.threshold:g} %): updates and downloads may fail. Free some space."
        )
    return Cured(f"disk at {percent:.0f} %")


def printers_in_error(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The printers of a heartbeat that are stopped or report an error (CUPS's reasons ending in
    "-error"; "-warning" and "-report", such as a printer switched off at night, are not)."""
    found = []
    for printer in metrics.get("printers") or []:
        if not isinstance(printer, dict):
            continue
        reasons = [r for r in printer.get("reasons") or [] if isinstance(r, str)]
        if printer.get("state") == PrinterState.STOPPED or any(
            r.endswith("-error") for r in reasons
        ):
            found.append(printer)
    return found


def printer_words(printer: dict[str, Any]) -> str:
    """A printer in error as a technician reads it: "hall (media-jam-error: Paper jam)"."""
    reasons = ", ".join(r for r in printer.get("reasons") or [] if isinstance(r, str))
    said = ": ".join(part for part in (reasons, str(printer.get("message") or "")) if part)
    name = str(printer.get("name") or "?")
    return f"{name} ({said})" if said else name


def check_printers(device: Device, rule: Rule, context: Context) -> Verdict:
    metrics = _online_metrics(device)
    if metrics is None or "printers" not in metrics:
        return None
    failing = printers_in_error(metrics)
    if not failing:
        return Cured("no printer in error any more")
    return Breach(
        f"{'A printer' if len(failing) == 1 else f'{len(failing)} printers'} of {device.name} "
        f"stopped: {', '.join(printer_words(p) for p in failing)}. Residents cannot print."
    )


PORTAL_STATE, PORTAL_RUNNING = "portal", "running"  # the hotspot's heartbeat state


def check_portal(device: Device, rule: Rule, context: Context) -> Verdict:
    metrics = _online_metrics(device)
    if metrics is None or device.kind != DeviceKind.HOTSPOT:
        return None
    state = metrics.get("state") or {}
    if not isinstance(state, dict) or PORTAL_STATE not in state:
        return None  # an agent without the hotspot role says nothing of a portal
    if state[PORTAL_STATE] == PORTAL_RUNNING:
        return Cured("the portal runs again")
    return Breach(
        f"The wifi portal of {device.name} is not running: residents cannot get online. "
        "Check the hotspot's borne-portal service."
    )


def check_clock(device: Device, rule: Rule, context: Context) -> Verdict:
    metrics = _online_metrics(device)
    offset = alerts.clock_offset(device) if metrics is not None else None
    if offset is None or rule.threshold is None:
        return None
    if abs(offset) <= timedelta(seconds=rule.threshold):
        return Cured("its clock is right again")
    way = "ahead" if offset > timedelta(0) else "behind"
    return Breach(
        f"The clock of {device.name} is {alerts.offset_words(abs(offset))} {way} of the "
        "controller's: schedules and session limits go wrong by as much. Check its time "
        "synchronisation (NTP)."
    )


def check_agent(device: Device, rule: Rule, context: Context) -> Verdict:
    inventory = device.inventory if isinstance(device.inventory, dict) else {}
    said = inventory.get("agent_version")
    agent = _parsed_version(said)
    ours = context.controller_version
    if agent is None or ours is None:
        return None
    if agent < ours:
        return Breach(
            f"The agent of {device.name} is at version {said}, older than the controller's "
            f"{ours}: it misses fixes and may not understand new commands. Upgrade it."
        )
    return Cured(f"agent at version {said}")


CHECKS: dict[AlertKind, Callable[[Device, Rule, Context], Verdict]] = {
    AlertKind.OFFLINE: check_offline,
    AlertKind.CPU_HIGH: _check_usage("CPU", "cpu_percent"),
    AlertKind.MEMORY_HIGH: _check_usage("memory", "memory_percent"),
    AlertKind.DISK_FULL: check_disk,
    AlertKind.PORTAL_DOWN: check_portal,
    AlertKind.PRINTER_ERROR: check_printers,
    AlertKind.CLOCK_OFF: check_clock,
    AlertKind.AGENT_OUTDATED: check_agent,
}


def evaluate(
    session: Session,
    now: datetime,
    *,
    policy: SchedulePolicy | None = None,
    controller_version: str | None = None,
) -> Evaluation:
    """Evaluate every rule on every device in service: breaches kept, alerts raised and resolved.

    ``policy`` gives the sites' time zone and country (their hours and public holidays);
    ``controller_version`` defaults to the installed one. A handful of queries whatever the
    size of the fleet: devices with their metrics and sites, overrides, breaches, open alerts,
    and the closures of the sites with an off-line device; then one per alert raised or
    resolved. Run concurrently by two processes, one of them fails on the unique indexes and
    changes nothing (:func:`alert_rules_job`).
    """
    policy = policy or SchedulePolicy()
    devices = list(
        session.scalars(
            select(Device)
            .where(Device.retired_at.is_(None))
            .options(undefer(Device.metrics), undefer(Device.inventory), joinedload(Device.site))
        )
    )
    overrides: dict[int, list[AlertRuleOverride]] = {}
    for override in session.scalars(select(AlertRuleOverride)):
        overrides.setdefault(override.organisation_id, []).append(override)
    breaches = {(b.device_id, AlertKind(b.kind)): b for b in session.scalars(select(AlertBreach))}
    open_now = {
        (a.device_id, AlertKind(a.kind)): a
        for a in session.scalars(
            select(Alert).where(Alert.resolved_at.is_(None), Alert.kind.in_(list(DEFAULTS)))
        )
    }
    offline_sites = {d.site_id for d in devices if d.status == DeviceStatus.OFFLINE}
    context = Context(
        now,
        SiteHours(session, policy, now, offline_sites),
        _parsed_version(own_version() if controller_version is None else controller_version),
    )
    rules_of: dict[int, dict[AlertKind, Rule]] = {}
    done = Evaluation()
    kept: set[tuple[str, AlertKind]] = set()
    for device in devices:
        organisation_id = device.site.organisation_id
        if organisation_id not in rules_of:
            rules_of[organisation_id] = _with_overrides(overrides.get(organisation_id, []))
        for kind, rule in rules_of[organisation_id].items():
            key = (device.id, kind)
            alert = open_now.get(key)
            if not rule.enabled:
                if alert is not None:
                    _resolve(session, done, alert, "alert rule turned off", now)
                continue
            verdict = CHECKS[kind](device, rule, context)
            if isinstance(verdict, Cured):
                if alert is not None:
                    _resolve(session, done, alert, verdict.resolution, now)
            elif isinstance(verdict, Breach) and device.out_of_service_since is None:
                kept.add(key)
                breach = breaches.get(key)
                if breach is None:
                    breach = AlertBreach(device_id=device.id, kind=kind, since=verdict.since or now)
                    session.add(breach)
                if alert is None and now - breach.since >= rule.tolerance:
                    done.raised.append(
                        alerts.raise_alert(
                            session, device, kind, verdict.message, now, timezone=policy.timezone
                        )
                    )
    for key, breach in breaches.items():
        if key not in kept:
            session.delete(breach)
    session.flush()
    return done


def _resolve(
    session: Session, done: Evaluation, alert: Alert, resolution: str, now: datetime
) -> None:
    resolved = alerts.resolve_alert(
        session, alert.device_id, AlertKind(alert.kind), resolution, now
    )
    if resolved is not None:
        done.resolved.append(resolved)


def alert_rules_job(app: Flask) -> None:
    """The periodic job: evaluate the rules now, in the city's time zone.

    Every process runs it; when two raise the same alert or start the same breach at once, the
    second one's transaction fails on the unique indexes and is rolled back whole: the next
    run, a minute later, sees what the first one did.
    """
    policy = SchedulePolicy(timezone=settings_of(app).timezone)
    try:
        with database_of(app).session() as session:
            done = evaluate(session, utcnow(), policy=policy)
    except IntegrityError:
        log.info("alert rules evaluated by another process at the same moment; next run follows")
        return
    if done.raised or done.resolved:
        log.info("alert rules: %d raised, %d resolved", len(done.raised), len(done.resolved))

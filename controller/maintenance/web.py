"""Maintenance on the staff pages: a device's open alerts, first thing on its page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Blueprint

from controller.accounts.current import signed_in
from controller.context import db_session
from controller.fleet.models import Device
from controller.i18n import _, ngettext
from controller.maintenance import rules
from controller.maintenance import service as alerts
from controller.maintenance.models import Alert, AlertKind
from controller.web.panels import Refused

# No page of its own yet: the blueprint serves the panels' templates.
maintenance_web = Blueprint("maintenance", __name__, template_folder="templates")


def alerts_panel(device: Device, refused: Refused | None) -> dict[str, Any] | None:
    found = alerts.open_alerts(db_session(), signed_in(), device_id=device.id)
    return {"alerts": [(alert, alert_text(alert)) for alert in found]} if found else None


def alert_text(alert: Alert) -> str:
    """What an alert says, in the reader's language.

    The stored message stays in English: it is what the API, the signals and the logs carry,
    written when no reader was there. The page says it again from what the alert's kind
    knows; a kind without words here shows the stored message.
    """
    if alert.kind == AlertKind.WIPE_INCOMPLETE:
        return _(
            "The wipe after a reset left something of a resident on this PC: the privacy "
            "wipes below say what."
        )
    if alert.kind == AlertKind.CLOCK_OFF:
        offset = alerts.clock_offset(alert.device)
        if offset is None or abs(offset) <= alerts.CLOCK_TOLERANCE:
            return _(
                "The clock of %(device)s is more than a minute off the controller's: schedules "
                "and session limits go wrong by as much. Check its time synchronisation (NTP).",
                device=alert.device.name,
            )
        if offset > timedelta(0):
            return _(
                "The clock of %(device)s is %(offset)s ahead of the controller's: schedules and "
                "session limits go wrong by as much. Check its time synchronisation (NTP).",
                device=alert.device.name,
                offset=alerts.offset_words(offset),
            )
        return _(
            "The clock of %(device)s is %(offset)s behind the controller's: schedules and "
            "session limits go wrong by as much. Check its time synchronisation (NTP).",
            device=alert.device.name,
            offset=alerts.offset_words(-offset),
        )
    return _rule_text(alert) or _locker_text(alert) or alert.message


def _rule_text(alert: Alert) -> str | None:
    """The words of an alert raised by a rule (:mod:`controller.maintenance.rules`), with what
    the device's latest heartbeat says where it helps; None for a kind without words here."""
    device = alert.device.name
    metrics = alert.device.metrics or {}
    if alert.kind == AlertKind.OFFLINE:
        return _(
            "%(device)s does not answer while its site is open: check that it is switched on, "
            "plugged in and connected to the network.",
            device=device,
        )
    if alert.kind in (AlertKind.CPU_HIGH, AlertKind.MEMORY_HIGH):
        key = "cpu_percent" if alert.kind == AlertKind.CPU_HIGH else "memory_percent"
        value = metrics.get(key)
        if not isinstance(value, int | float):
            value = None
        if alert.kind == AlertKind.CPU_HIGH:
            if value is None:
                return _(
                    "The processor of %(device)s has been busy for a long while: a program may "
                    "be stuck. Restarting the device usually frees it.",
                    device=device,
                )
            return _(
                "The processor of %(device)s has been busy for a long while (%(percent)d %% "
                "at its last heartbeat): a program may be stuck. Restarting the device usually "
                "frees it.",
                device=device,
                percent=round(value),
            )
        if value is None:
            return _(
                "The memory of %(device)s has been almost full for a long while: a program may "
                "be stuck, or the device has too little memory.",
                device=device,
            )
        return _(
            "The memory of %(device)s has been almost full for a long while (%(percent)d %% "
            "at its last heartbeat): a program may be stuck, or the device has too little "
            "memory.",
            device=device,
            percent=round(value),
        )
    if alert.kind == AlertKind.DISK_FULL:
        fullest = rules.fullest_disk(metrics)
        if fullest is None:
            return _(
                "A disk of %(device)s is almost full: updates and downloads may fail. Free "
                "some space.",
                device=device,
            )
        return _(
            "The disk %(mountpoint)s of %(device)s is %(percent)d %% full: updates and "
            "downloads may fail. Free some space.",
            device=device,
            mountpoint=fullest[0],
            percent=round(fullest[1]),
        )
    if alert.kind == AlertKind.PORTAL_DOWN:
        return _(
            "The wifi portal of %(device)s is not running: residents cannot get online. Check "
            "the hotspot's borne-portal service.",
            device=device,
        )
    if alert.kind == AlertKind.PRINTER_ERROR:
        failing = rules.printers_in_error(metrics)
        if not failing:
            return _(
                "A printer of %(device)s stopped: residents cannot print. Check the paper, the "
                "toner and for a jam, then resume the printer.",
                device=device,
            )
        return _(
            "A printer of %(device)s stopped (%(printers)s): residents cannot print. Check the "
            "paper, the toner and for a jam, then resume the printer.",
            device=device,
            printers=", ".join(rules.printer_words(p) for p in failing),
        )
    if alert.kind == AlertKind.AGENT_OUTDATED:
        said = (alert.device.inventory or {}).get("agent_version")
        return _(
            "The agent of %(device)s is at version %(agent)s, older than the controller's "
            "%(controller)s: it misses fixes and may not understand new commands. Upgrade it.",
            device=device,
            agent=said if isinstance(said, str) and said else "?",
            controller=rules.own_version() or "?",
        )
    return None


# The lockers a charging kiosk's alert is about, as controller/lockers/service.py starts its
# message: "Locker 3: …", "Lockers 3, 5: …".
_LOCKERS = re.compile(r"^Lockers? ([0-9]+(?:, [0-9]+)*):")


def _locker_text(alert: Alert) -> str | None:
    """The words of a charging kiosk's alert, with the lockers it is about; None for another
    kind, or a message without its lockers (the stored message is shown then)."""
    device = alert.device.name
    if alert.kind == AlertKind.LOCKER_DRIVER:
        return _(
            "The lock board of %(device)s does not answer: no locker opens, at the kiosk or from "
            "here. Check its cable and its power, then restart the kiosk.",
            device=device,
        )
    if alert.kind == AlertKind.KEYPAD_PAUSED:
        return _(
            "The keypad of %(device)s is paused after wrong codes on several lockers: someone "
            "may be trying codes. It starts again by itself.",
            device=device,
        )
    found = _LOCKERS.match(alert.message)
    if found is None:
        return None
    numbers = found.group(1)
    count = numbers.count(",") + 1
    if alert.kind == AlertKind.LOCKER_OVERTIME:
        return ngettext(
            "Locker %(numbers)s of %(device)s holds a phone past the site's longest charging "
            "time: it stays shut until a member of staff opens it.",
            "Lockers %(numbers)s of %(device)s hold phones past the site's longest charging "
            "time: they stay shut until a member of staff opens them.",
            count,
            numbers=numbers,
            device=device,
        )
    if alert.kind == AlertKind.LOCKER_FORGOTTEN:
        return ngettext(
            "A phone is still in locker %(numbers)s of %(device)s at closing time: follow the "
            "site's procedure for forgotten phones.",
            "Phones are still in lockers %(numbers)s of %(device)s at closing time: follow the "
            "site's procedure for forgotten phones.",
            count,
            numbers=numbers,
            device=device,
        )
    if alert.kind == AlertKind.LOCKER_DOOR:
        return ngettext(
            "The door of locker %(numbers)s of %(device)s is not as it should be (open when it "
            "should be shut, or shut on a locker waiting for a phone): check it.",
            "The doors of lockers %(numbers)s of %(device)s are not as they should be (open "
            "when they should be shut, or shut on a locker waiting for a phone): check them.",
            count,
            numbers=numbers,
            device=device,
        )
    return None

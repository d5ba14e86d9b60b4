"""The commands' pages: the buttons that send a command to a device or to a whole site, the
confirmation of disruptive ones, and the commands panels of site and device pages.

Without JavaScript a button posts its form (redirect and flash); with it, the page's script asks
for JSON. A refusal of the domain is shown beside the form, and nothing is sent.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for
from flask_login import login_required

from agent.protocol import CommandName
from controller.accounts.current import signed_in
from controller.commands import offers
from controller.commands import service as commands
from controller.commands.delivery import send_now
from controller.commands.forms import CommandForm
from controller.commands.models import Command, CommandState
from controller.commands.outcomes import done_words, outcome_line, outcome_of
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.i18n import _, _l, ngettext
from controller.places import service as places
from controller.places.models import Site
from controller.places.opening_hours import SchedulePolicy
from controller.public_pcs import service as public_pcs
from controller.web.pages import Page, json_error, wants_json
from controller.web.panels import Refused, show_refusal

commands_web = Blueprint("commands", __name__, template_folder="templates")

COMMAND_ICONS = {
    CommandName.RESET_SESSION: "rotate-ccw",
    CommandName.LOCK_SCREEN: "lock",
    CommandName.UNLOCK_SCREEN: "lock-open",
    CommandName.SHOW_MESSAGE: "message-square-text",
    CommandName.REBOOT: "refresh-cw",
    CommandName.SHUTDOWN: "power",
    CommandName.WAKE: "sunrise",
    CommandName.MAINTENANCE: "download",
    CommandName.UPDATE_CONFIG: "settings",
    CommandName.COLLECT_LOGS: "file-text",
    CommandName.EXTEND_SESSION: "clock",
    CommandName.OPEN_LOCKER: "lock-open",  # the lockers' panel has its form (locker, reason)
}
# A command's state as people read it; "running" is a sent command its device has claimed.
# app.js keeps the same pictograms for live updates, and gets the words from the page
# (command_words_of_page).
RUNNING = "running"
COMMAND_STATES = {
    CommandState.QUEUED: (_l("Queued"), "hourglass"),
    CommandState.SENT: (_l("Sent"), "send"),
    RUNNING: (_l("Running"), "loader"),
    CommandState.DONE: (_l("Done"), "circle-check"),
    CommandState.FAILED: (_l("Failed"), "circle-x"),
    CommandState.EXPIRED: (_l("Expired"), "clock"),
}


@commands_web.app_context_processor
def command_words() -> dict[str, Any]:
    return {
        "COMMAND_ICONS": COMMAND_ICONS,
        "COMMAND_STATES": COMMAND_STATES,
        "command_words_of_page": command_words_of_page,
        "outcome_line": outcome_line,
    }


def command_words_of_page() -> dict[str, Any]:
    """The words app.js writes into the commands panels, in the reader's language: the live
    "command" events come in the server's language, and reach readers of both."""
    return {
        "command_states": {state: str(label) for state, (label, _icon) in COMMAND_STATES.items()},
        "commands": {name: str(spec.label) for name, spec in commands.SPECS.items()},
        "command_now": _("%(command)s: %(state)s."),
        "command_on_now": _("%(command)s on %(device)s: %(state)s."),
        "nothing_sent": _("Nothing was sent. %(error)s"),
        "sending": _("Sending…"),
        "sent": _("Sent."),
        "yes": _("Yes, %(action)s"),
        "server_answered": _("the server answered %(status)s; reload the page and try again"),
        "server_refused": _("the server refused it"),
        "unreachable": _("the controller could not be reached; check the network and try again."),
        "blank": _("(blank)"),
        # One-line outcomes (commands.outcomes): %(ms)s, %(time)s and %(reason)s are the
        # script's to fill; times in the city's zone.
        "outcomes": {
            **done_words(),
            "reset": _("Reset: ready in %(ms)s ms", ms="%(ms)s"),
            "reset_ready": _("Reset: ready for the next resident"),
            "extended": _("More time: the session now ends at %(time)s", time="%(time)s"),
            "extended_plain": _("More time given"),
            "failed": _("Failed: %(reason)s", reason="%(reason)s"),
            "no_reason": _("the device gave no reason"),
        },
        "time_zone": settings_of(current_app).timezone,
    }


@commands_web.app_template_filter("command_state")
def command_state(command: Command) -> str:
    """The state a page shows: ``running`` once the device has claimed a sent command."""
    if command.state == CommandState.SENT and command.started_at is not None:
        return RUNNING
    return str(command.state)


@commands_web.app_template_filter("command_outcome")
def command_outcome(command: Command) -> dict[str, Any] | None:
    return outcome_of(command)


@commands_web.app_template_filter("command_label")
def command_label(command: Command) -> str:
    return str(commands.SPECS[CommandName(command.name)].label)


def _panel_form(refused: Refused | None) -> tuple[CommandForm, str | None]:
    if refused is not None:
        return refused.form, refused.message
    return CommandForm(formdata=None), None


def device_panel(found: Device, refused: Refused | None) -> dict[str, Any]:
    """The commands a device may be sent by the reader, and those it was sent lately."""
    me = signed_in()
    form, error = _panel_form(refused)
    return {
        "device": found,
        "offered": offers.device_commands(me, found),
        "recent_commands": commands.list_commands(db_session(), me, device_id=found.id, limit=20),
        "command_form": form,
        "command_error": error,
    }


def site_panel(found: Site, refused: Refused | None) -> dict[str, Any]:
    """The commands for a whole site."""
    form, error = _panel_form(refused)
    return {
        "site": found,
        "offered": offers.site_commands(signed_in(), found),
        "command_form": form,
        "command_error": error,
    }


def site_recent_panel(found: Site, refused: Refused | None) -> dict[str, Any]:
    recent = commands.list_commands(db_session(), signed_in(), site_id=found.id, limit=30)
    return {"site": found, "recent_commands": recent}


@commands_web.post("/devices/<device_id>/commands")
@login_required
def device_command(device_id: str) -> Page:
    """Send a command to one device: a form without JavaScript (redirect and flash), JSON with."""
    try:
        found = fleet.get_device(db_session(), signed_in(), device_id)
    except DomainError as exc:
        if wants_json():
            return json_error(exc.status, exc.code, exc.message)
        raise
    return _send_command(found.site, found)


@commands_web.post("/sites/<int:site_id>/commands")
@login_required
def site_command(site_id: int) -> Page:
    """Send a command to every fitting device of a site."""
    try:
        found = places.get_site(db_session(), signed_in(), site_id)
    except DomainError as exc:
        if wants_json():
            return json_error(exc.status, exc.code, exc.message)
        raise
    return _send_command(found, None)


def _send_command(site: Site, device: Device | None) -> Page:
    """Issue the form's command to ``device``, or to ``site`` as a whole when it is None.

    Disruptive commands are sent only once confirmed; without JavaScript the confirmation is a
    page of its own. A refusal of the domain is shown beside the form, and nothing is sent.
    """
    session = db_session()
    me = signed_in()
    form = CommandForm()

    def refuse(status: int, code: str, message: str) -> Page:
        if wants_json():
            return json_error(status, code, message)
        refused = Refused("commands", form, message, status)
        if device is not None:
            return show_refusal("device", device, refused)
        return show_refusal("site", site, refused)

    if not form.validate_on_submit():
        problems = [error for errors in form.errors.values() for error in errors]
        return refuse(400, "invalid_form", " ".join(problems))
    offered = offers.device_commands(me, device) if device else offers.site_commands(me, site)
    try:
        name = commands.parse_name(form.command.data or "")
        choice = next((c for c in offered if c.name == name), None)
        if choice is not None and choice.confirm and form.confirmed.data != "yes":
            if wants_json():
                return json_error(409, "confirm", choice.confirm)
            return render_template(
                "commands/confirm.html", choice=choice, form=form, device=device, site=site
            )
        issued = commands.issue(
            session,
            me,
            name,
            device_ids=[device.id] if device else (),
            site_id=None if device else site.id,
            args=_command_args(name, form, site, device),
            pushed=True,
        )
    except DomainError as exc:
        session.rollback()
        return refuse(exc.status, exc.code, exc.message)
    session.commit()
    send_now(issued)
    label = choice.label if choice else commands.SPECS[name].label
    if device is not None:
        message = _(
            "%(command)s: sent to %(device)s. Follow it under Recent commands.",
            command=label,
            device=device.name,
        )
    else:
        message = ngettext(
            "%(command)s: sent to %(num)d device at %(site)s. Follow it under Recent commands.",
            "%(command)s: sent to %(num)d devices at %(site)s. Follow them under Recent commands.",
            len(issued),
            command=label,
            site=site.name,
        )
    if wants_json():
        return jsonify(message=message, commands=[commands.summary(c) for c in issued]), 201
    flash(message, "success")
    if device is not None:
        return redirect(url_for("fleet.device", device_id=device.id, _anchor="commands"))
    return redirect(url_for("places.site", site_id=site.id, _anchor="commands"))


def _command_args(
    name: CommandName, form: CommandForm, site: Site, device: Device | None
) -> dict[str, Any]:
    """The form's fields as the command's arguments (the domain validates them)."""
    if name is CommandName.SHOW_MESSAGE:
        args: dict[str, Any] = {"text": (form.text.data or "").strip()}
        if form.seconds.data is not None:
            args["seconds"] = form.seconds.data
        return args
    if name is CommandName.EXTEND_SESSION:
        return public_pcs.extension_args(
            db_session(),
            site,
            until_closing=form.until.data == "closing",
            now=utcnow(),
            policy=SchedulePolicy(timezone=settings_of(current_app).timezone),
        )
    if name is CommandName.UPDATE_CONFIG:
        return _changed_settings(form, device)
    return {}


def _changed_settings(form: CommandForm, device: Device | None) -> dict[str, Any]:
    """The settings the "Update settings" form changes: those filled in with a new value.
    Nothing changed is refused: an empty update would report success and do nothing."""
    wanted: dict[str, Any] = {
        "heartbeat_interval_s": form.heartbeat_interval_s.data,
        "inventory_interval_s": (
            form.inventory_interval_h.data * 3600 if form.inventory_interval_h.data else None
        ),
        "device_name": (form.device_name.data or "").strip() or None,
    }
    current = {
        "heartbeat_interval_s": device.heartbeat_interval_s if device else None,
        "device_name": device.name if device else None,
    }
    changed = {k: v for k, v in wanted.items() if v is not None and v != current.get(k)}
    if not changed:
        raise DomainError(
            _("Give at least one setting a new value: there is nothing to change."),
            code="nothing_to_change",
        )
    return changed

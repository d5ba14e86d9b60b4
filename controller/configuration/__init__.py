"""Configuration in layers: a device's settings = defaults ← organisation ← site ← device, each
change a version shown as a difference before it is applied, rolled out at once, in waves or at
a set time, followed device by device, and rolled back. And the one module that renders and
sends every device's settings, the layers' and the other domains' (render.py)."""

from __future__ import annotations

import logging
from functools import partial

from flask import Flask, current_app, has_app_context

from controller import audit, signals
from controller.api import add_api
from controller.i18n import _l

log = logging.getLogger(__name__)

AUDIT_WORDS = {
    "config.layer": _l("Settings of a layer changed"),
    "config.rollout": _l("Settings rolled out"),
    "config.rollout_halted": _l("Rollout halted by a failure"),
    "config.rollout_resumed": _l("Halted rollout resumed"),
}


def rollouts_job(app: Flask) -> None:
    """The periodic job: send what is due, open or halt second waves, close finished rollouts.

    Every process runs it; targets are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL) or
    SQLite's single writer, so a device is sent a version once."""
    from controller.commands.delivery import push_commands
    from controller.configuration import rollouts
    from controller.context import database_of
    from controller.realtime import hub_of

    with database_of(app).session() as session:
        issued = rollouts.advance(session)
    if issued:
        log.info("rollouts: %d device(s) sent their settings", len(issued))
        push_commands(hub_of(app), issued)


def upgrade_enrolled_device(sender: str, **_ignored: object) -> None:
    """A device just enrolled (``signals.device_enrolled``, heard once committed) whose layers
    name another release of borne than the one it runs is sent its settings at once; it gets
    them when it first connects."""
    if not has_app_context():
        return
    from controller.commands.delivery import push_commands
    from controller.configuration import rollouts
    from controller.context import database_of, settings_of
    from controller.realtime import hub_of

    with database_of(current_app).session() as session:
        issued = rollouts.upgrade_enrolled(session, sender, settings_of(current_app))
    if issued:
        log.info("enrolment: %s sent the release of borne its layers name", sender)
        push_commands(hub_of(current_app), issued)


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from controller.configuration import render, web
    from controller.configuration.api import configuration_api
    from controller.context import settings_of
    from controller.fleet.enrolment import domain_settings_of, set_starting_settings
    from controller.jobs import add_job
    from controller.web.panels import Panel, add_panel

    add_api(app, configuration_api)
    app.register_blueprint(web.configuration_web)
    add_panel(
        app, "device", Panel("settings", "configuration/_device_panel.html", web.device_panel, 70)
    )
    # Enrolment's one provider: the layers' settings and the domains' (their providers, in the
    # app's list the domains' init_app fill, before or after this one).
    set_starting_settings(app, partial(render.starting_settings, providers=domain_settings_of(app)))
    add_job(app, "rollouts", settings_of(app).rollout_interval_s, rollouts_job)
    audit.describe_actions(app, AUDIT_WORDS)
    signals.device_enrolled.connect(upgrade_enrolled_device)

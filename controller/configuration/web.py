"""Configuration on the staff pages: a device's settings in force and where each comes from (a
panel of its page); a layer's page (its settings, versions and rollouts) whose change is shown as
a difference on every device before it is applied; a rollout's page, device by device."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import select
from wtforms import SelectChoice

from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.commands.delivery import send_now
from controller.configuration import catalogue, layers, releases, rollouts
from controller.configuration.forms import STRATEGIES, ConfirmForm, LayerForm, RolloutForm
from controller.configuration.models import ConfigLayer, LayerScope, Rollout, RolloutState
from controller.context import db_session, settings_of
from controller.errors import DomainError
from controller.fleet.models import Device
from controller.i18n import _, _l
from controller.web.pages import Page
from controller.web.panels import Refused

configuration_web = Blueprint("configuration", __name__, template_folder="templates")

SCOPE_WORDS = {
    "default": _l("default"),
    LayerScope.ORGANISATION: _l("organisation"),
    LayerScope.SITE: _l("site"),
    LayerScope.DEVICE: _l("this device"),
}
TARGET_STATES = {
    rollouts.TargetState.PENDING: (_l("pending"), "hourglass", "status-new"),
    rollouts.TargetState.SENT: (_l("sent"), "send", "status-new"),
    rollouts.TargetState.APPLIED: (_l("applied"), "circle-check", "status-online"),
    rollouts.TargetState.FAILED: (_l("failed"), "circle-x", "status-offline"),
    rollouts.TargetState.SKIPPED: (_l("replaced"), "circle-dashed", "status-new"),
}
ROLLOUT_STATES = {
    RolloutState.RUNNING: _l("under way"),
    RolloutState.HALTED: _l("halted: a device of the first site failed"),
    RolloutState.DONE: _l("finished"),
    RolloutState.SUPERSEDED: _l("replaced by a newer version"),
}
UPGRADE_HALTED = _l("halted: an agent upgrade failed")


def device_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """The device's layered settings in force, each with the layer it comes from, and links to
    the layers that may change them (for those who may)."""
    session = db_session()
    me = signed_in()
    values = layers.effective(session, found, settings_of(current_app))
    may_change = access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, found.site)
    wanted = values.get(catalogue.AGENT_VERSION, (None, None))[0]
    runs = str((found.inventory or {}).get("agent_version") or "")
    return {
        "device": found,
        "values": [
            (catalogue.LAYERED[name], value, source) for name, (value, source) in values.items()
        ],
        # The release it reports, when its layers name another one (an upgrade on its way,
        # or one that failed and was rolled back).
        "agent_runs": runs
        if wanted is not None and not releases.same_version(wanted, runs)
        else None,
        "SCOPE_WORDS": SCOPE_WORDS,
        "layer_links": [
            (_("its organisation"), LayerScope.ORGANISATION, found.site.organisation_id),
            (_("its site"), LayerScope.SITE, found.site_id),
            (_("this device alone"), LayerScope.DEVICE, found.id),
        ]
        if may_change
        else [],
    }


@configuration_web.get("/configuration/<scope>/<target_id>")
@login_required
def layer(scope: str, target_id: str) -> Page:
    session = db_session()
    me = signed_in()
    target = layers.find_target(session, me, scope, target_id)
    found = layers.layers_for_read(session, me, target)
    form = _layer_form(formdata=None, data=found.settings if found else {})
    return _layer_page(target, found, form)


@configuration_web.post("/configuration/<scope>/<target_id>/preview")
@login_required
def preview(scope: str, target_id: str) -> Page:
    session = db_session()
    me = signed_in()
    target = layers.find_target(session, me, scope, target_id)
    found = layers.layers_for_read(session, me, target)
    form = _layer_form()
    if not form.validate():
        return _layer_page(
            target, found, form, _("Give each setting as a whole number, or leave it blank."), 400
        )
    wanted = {name: form[name].data for name in catalogue.LAYERED if form[name].data is not None}
    try:
        plan = layers.preview(session, me, target, wanted, settings_of(current_app))
    except DomainError as exc:
        return _layer_page(target, found, form, exc.message, exc.status)
    rollout_form = RolloutForm(formdata=None, settings=json.dumps(plan.layer_after))
    return _preview_page(target, plan, rollout_form)


@configuration_web.post("/configuration/<scope>/<target_id>/apply")
@login_required
def apply(scope: str, target_id: str) -> Page | Response:
    session = db_session()
    me = signed_in()
    target = layers.find_target(session, me, scope, target_id)
    form = RolloutForm()
    try:
        wanted = json.loads(form.settings.data or "{}")
    except ValueError:
        wanted = None
    plan = None
    try:
        plan = layers.preview(session, me, target, wanted, settings_of(current_app))
        if not form.validate():
            raise DomainError(" ".join(str(e) for errors in form.errors.values() for e in errors))
        at = None
        if form.at.data is not None:
            at = form.at.data.replace(tzinfo=ZoneInfo(settings_of(current_app).timezone))
        rollout, issued = rollouts.change(
            session,
            me,
            target,
            wanted,
            settings_of(current_app),
            strategy=form.strategy.data or "",
            first_site_id=form.first_site.data or None,
            at=at,
            spread_s=(form.spread_min.data or 0) * 60,
        )
    except DomainError as exc:
        session.rollback()
        if plan is None:
            found = layers.layers_for_read(session, me, target)
            blank = _layer_form(formdata=None, data=found.settings if found else {})
            return _layer_page(target, found, blank, exc.message, exc.status)
        return _preview_page(target, plan, form, exc.message, exc.status)
    session.commit()
    send_now(issued)
    flash(
        _("Version %(version)d saved; its rollout has started.", version=rollout.version), "success"
    )
    return redirect(url_for("configuration.rollout", rollout_id=rollout.id))


@configuration_web.post("/configuration/<scope>/<target_id>/rollback/<int:version>")
@login_required
def rollback(scope: str, target_id: str, version: int) -> Page | Response:
    session = db_session()
    me = signed_in()
    target = layers.find_target(session, me, scope, target_id)
    if not ConfirmForm().validate():
        flash(_("The page had expired: try again."), "error")
        return redirect(url_for("configuration.layer", scope=scope, target_id=target_id))
    try:
        rollout, issued = rollouts.rollback(session, me, target, version, settings_of(current_app))
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("configuration.layer", scope=scope, target_id=target_id))
    session.commit()
    send_now(issued)
    flash(_("Back to version %(version)d: its rollout has started.", version=version), "success")
    return redirect(url_for("configuration.rollout", rollout_id=rollout.id))


@configuration_web.get("/configuration/rollouts/<int:rollout_id>")
@login_required
def rollout(rollout_id: int) -> Page:
    session = db_session()
    me = signed_in()
    found = rollouts.get_rollout(session, me, rollout_id)
    target = layers.find_target(session, me, found.layer.scope, found.layer.target_id)
    return render_template(
        "configuration/rollout.html",
        rollout=found,
        target=target,
        targets=rollouts.targets_of(found),
        counts=rollouts.counts(found),
        agent_versions=rollouts.agent_versions(found) if found.upgrades_agent else [],
        TARGET_STATES=TARGET_STATES,
        ROLLOUT_STATES=ROLLOUT_STATES,
        UPGRADE_HALTED=UPGRADE_HALTED,
        STRATEGIES=STRATEGIES,
        SCOPE_WORDS=SCOPE_WORDS,
        may_resume=found.state == RolloutState.HALTED and access.can(me, Action.MANAGE_PLACES),
        confirm=ConfirmForm(formdata=None),
    )


@configuration_web.post("/configuration/rollouts/<int:rollout_id>/resume")
@login_required
def resume(rollout_id: int) -> Response:
    session = db_session()
    me = signed_in()
    if not ConfirmForm().validate():
        flash(_("The page had expired: try again."), "error")
        return redirect(url_for("configuration.rollout", rollout_id=rollout_id))
    try:
        issued = rollouts.resume(session, me, rollout_id)
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("configuration.rollout", rollout_id=rollout_id))
    session.commit()
    send_now(issued)
    flash(_("Rollout resumed: the other sites get their settings now."), "success")
    return redirect(url_for("configuration.rollout", rollout_id=rollout_id))


def _layer_form(**kwargs: Any) -> LayerForm:
    """The layer's form, its release field offering the releases the controller keeps."""
    form = LayerForm.with_settings()(**kwargs)
    field = form[catalogue.AGENT_VERSION]
    kept = releases.versions(settings_of(current_app).releases_dir)
    if field.data and field.data not in kept:
        kept.append(field.data)  # set earlier, its wheel gone since: shown, and refused
    field.choices = [SelectChoice("", _("not set (each keeps its own)"))] + [
        SelectChoice(version, version) for version in kept
    ]
    return form


def _layer_page(
    target: layers.Target,
    found: ConfigLayer | None,
    form: LayerForm,
    error: str | None = None,
    status: int = 200,
) -> Page:
    me = signed_in()
    settings = settings_of(current_app)
    fallback = layers.inherited(db_session(), target, settings)
    for name, value in fallback.items():
        field = form[name]
        if not catalogue.LAYERED[name].number:
            field.choices[0] = SelectChoice("", _("%(value)s if blank", value=value))
            continue
        field.render_kw = {
            **(field.render_kw or {}),
            "placeholder": _("%(value)s if blank", value=value),
        }
    kept = [
        (release, releases.added_on(settings.releases_dir, release))
        for release in releases.list_releases(settings.releases_dir)
    ]
    recent = (
        db_session()
        .scalars(
            select(Rollout)
            .where(Rollout.layer_id == found.id)
            .order_by(Rollout.id.desc())
            .limit(10)
        )
        .all()
        if found
        else []
    )
    page = render_template(
        "configuration/layer.html",
        target=target,
        layer=found,
        form=form,
        error=error,
        recent=recent,
        releases=kept,
        SCOPE_WORDS=SCOPE_WORDS,
        ROLLOUT_STATES=ROLLOUT_STATES,
        UPGRADE_HALTED=UPGRADE_HALTED,
        LAYERED=catalogue.LAYERED,
        may_change=access.can(me, Action.MANAGE_PLACES),
        confirm=ConfirmForm(formdata=None),
    )
    return page, status


def _preview_page(
    target: layers.Target,
    plan: layers.Preview,
    form: RolloutForm,
    error: str | None = None,
    status: int = 200,
) -> Page:
    sites = sorted({(c.site_id, c.site_name) for c in plan.devices}, key=lambda s: s[1])
    form.first_site.choices = [SelectChoice(site_id, name) for site_id, name in sites]
    page = render_template(
        "configuration/preview.html",
        target=target,
        plan=plan,
        form=form,
        error=error,
        sites=sites,
        SCOPE_WORDS=SCOPE_WORDS,
        LAYERED=catalogue.LAYERED,
    )
    return page, status

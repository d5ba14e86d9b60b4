"""Staff API for configuration in layers: read a layer and its versions, preview a change as the
difference on each device, apply it in a rollout (at once, in waves, at a set time), roll back,
follow a rollout device by device, and read a device's settings in force with their origin.

And the releases of borne the controller serves: agents told to run one (``agent_version``)
read it and download its wheel with their own credentials; staff list them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, current_app, send_file

from agent.protocol import AgentRelease
from controller.accounts.current import signed_in
from controller.api.io import basic_credentials, documented, json_response, parse_body
from controller.commands.delivery import send_now
from controller.configuration import catalogue, layers, releases, render, rollouts
from controller.configuration.models import Rollout, RolloutState, RolloutStrategy
from controller.context import db_session, settings_of
from controller.fleet import service as fleet
from controller.fleet.enrolment import authenticate_device, domain_settings_of

configuration_api = Blueprint("configuration", __name__)

Settings = dict[str, Any]


class VersionOut(msgspec.Struct):
    version: int
    settings: Settings
    author: str
    note: str
    created_at: datetime


class LayerOut(msgspec.Struct):
    scope: str  # organisation, site or device
    target_id: str
    name: str
    version: int  # 0: the layer sets nothing yet
    settings: Settings  # only what this layer sets
    versions: list[VersionOut]
    known: dict[str, str]  # the settings a layer may set, and what each is


class ChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    settings: Settings  # the layer's whole new settings (a setting left out is no longer set)
    strategy: RolloutStrategy = RolloutStrategy.NOW
    first_site_id: int | None = None  # waves: the site that goes first (default: by name)
    at: datetime | None = None  # scheduled: when (with its time zone)
    spread_s: Annotated[int, msgspec.Meta(ge=0, le=rollouts.MAX_SPREAD_S)] = 0


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    settings: Settings


class RollbackIn(msgspec.Struct, forbid_unknown_fields=True):
    version: Annotated[int, msgspec.Meta(ge=1)]


class DeviceChangeOut(msgspec.Struct):
    device_id: str
    device_name: str
    site: str
    changes: dict[str, tuple[Any, Any]]  # setting -> [in force now, after the change]


class PreviewOut(msgspec.Struct):
    layer_before: Settings
    layer_after: Settings
    devices: list[DeviceChangeOut]
    unchanged_devices: int  # reached, but a narrower layer keeps their values


class TargetOut(msgspec.Struct):
    device_id: str
    device_name: str
    site: str
    wave: int
    due_at: datetime
    state: rollouts.TargetState
    answer: str  # the device's answer (why it failed, what it applied)


class RolloutOut(msgspec.Struct):
    id: int
    scope: str
    target_id: str
    version: int
    strategy: RolloutStrategy
    state: RolloutState
    upgrades_agent: bool  # it changes the release of borne devices run: any failure halts it
    starts_at: datetime
    spread_s: int
    created_by: str
    counts: dict[str, int]  # devices by state
    failed: list[TargetOut]
    targets: list[TargetOut]
    commands: list[str] = []  # those sent by this request


class SettingOut(msgspec.Struct):
    value: Any  # a secret's is "(hidden)"
    # "default", "organisation", "site" or "device" for a layered setting; for one another
    # domain keeps, that domain: "public_pcs", "hotspots", "lockers" or "maintenance"
    source: str
    source_name: str  # the layer's organisation, site or device; where the domain sets it
    version: int  # the layer's version; 0 for a default or a domain's value
    agent_reads: bool = True  # False: its agent is too old for it, and is not sent it


def _layer_out(target: layers.Target) -> LayerOut:
    layer = layers.layers_for_read(db_session(), signed_in(), target)
    known = {name: str(s.label) for name, s in catalogue.LAYERED.items()}
    if layer is None:
        return LayerOut(target.scope, target.target_id, target.name, 0, {}, [], known)
    versions = [
        VersionOut(v.version, v.settings, v.author, v.note, v.created_at) for v in layer.versions
    ]
    return LayerOut(
        target.scope, target.target_id, target.name, layer.version, layer.settings, versions, known
    )


def _rollout_out(rollout: Rollout, issued: list[str] | None = None) -> RolloutOut:
    views = [
        TargetOut(t.device_id, t.device_name, t.site_name, t.wave, t.due_at, t.state, t.answer)
        for t in rollouts.targets_of(rollout)
    ]
    return RolloutOut(
        rollout.id,
        rollout.layer.scope,
        rollout.layer.target_id,
        rollout.version,
        RolloutStrategy(rollout.strategy),
        RolloutState(rollout.state),
        rollout.upgrades_agent,
        rollout.starts_at,
        rollout.spread_s,
        rollout.created_by,
        {state.value: n for state, n in rollouts.counts(rollout).items()},
        [v for v in views if v.state is rollouts.TargetState.FAILED],
        views,
        issued or [],
    )


ERRORS = {403: "not allowed", 404: "no such organisation, site, device or version"}


@configuration_api.get("/config/<scope>/<target_id>")
@documented(
    "A layer of settings (an organisation's, a site's or a device's) and its versions",
    response=LayerOut,
    auth="staff",
    errors=ERRORS,
)
def get_layer(scope: str, target_id: str) -> Response:
    target = layers.find_target(db_session(), signed_in(), scope, target_id)
    return json_response(_layer_out(target))


@configuration_api.post("/config/<scope>/<target_id>/preview")
@documented(
    "What a change of the layer would do: its difference on every device it changes",
    body=PreviewIn,
    response=PreviewOut,
    auth="staff",
    errors={**ERRORS, 422: "unknown setting, or a value of the wrong type"},
)
def preview_layer(scope: str, target_id: str) -> Response:
    body = parse_body(PreviewIn)
    session, user = db_session(), signed_in()
    target = layers.find_target(session, user, scope, target_id)
    plan = layers.preview(session, user, target, body.settings, settings_of(current_app))
    return json_response(
        PreviewOut(
            plan.layer_before,
            plan.layer_after,
            [
                DeviceChangeOut(c.device_id, c.device_name, c.site_name, c.changed)
                for c in plan.devices
            ],
            plan.unchanged_devices,
        )
    )


@configuration_api.put("/config/<scope>/<target_id>")
@documented(
    "Change the layer (a new version) and roll it out: now, in waves, or at a set time",
    body=ChangeIn,
    response=RolloutOut,
    auth="staff",
    errors={**ERRORS, 400: "nothing to change", 422: "bad setting, strategy or schedule"},
)
def put_layer(scope: str, target_id: str) -> Response:
    body = parse_body(ChangeIn)
    session, user = db_session(), signed_in()
    target = layers.find_target(session, user, scope, target_id)
    rollout, issued = rollouts.change(
        session,
        user,
        target,
        body.settings,
        settings_of(current_app),
        strategy=body.strategy,
        first_site_id=body.first_site_id,
        at=body.at,
        spread_s=body.spread_s,
    )
    session.commit()
    send_now(issued)
    return json_response(_rollout_out(rollout, [c.id for c in issued]), 201)


@configuration_api.post("/config/<scope>/<target_id>/rollback")
@documented(
    "Go back to an earlier version of the layer (a new version equal to it, rolled out now)",
    body=RollbackIn,
    response=RolloutOut,
    auth="staff",
    errors={**ERRORS, 400: "that version is the one in force"},
)
def rollback_layer(scope: str, target_id: str) -> Response:
    body = parse_body(RollbackIn)
    session, user = db_session(), signed_in()
    target = layers.find_target(session, user, scope, target_id)
    rollout, issued = rollouts.rollback(
        session, user, target, body.version, settings_of(current_app)
    )
    session.commit()
    send_now(issued)
    return json_response(_rollout_out(rollout, [c.id for c in issued]), 201)


@configuration_api.get("/config/rollouts/<int:rollout_id>")
@documented(
    "A rollout device by device: pending, sent, applied, or failed with the device's answer",
    response=RolloutOut,
    auth="staff",
    errors={403: "not allowed", 404: "no such rollout"},
)
def get_rollout(rollout_id: int) -> Response:
    return json_response(_rollout_out(rollouts.get_rollout(db_session(), signed_in(), rollout_id)))


@configuration_api.post("/config/rollouts/<int:rollout_id>/resume")
@documented(
    "Send the rest of a rollout halted by a failure in its first wave",
    response=RolloutOut,
    auth="staff",
    errors={403: "not allowed", 404: "no such rollout", 409: "not halted"},
)
def resume_rollout(rollout_id: int) -> Response:
    session, user = db_session(), signed_in()
    issued = rollouts.resume(session, user, rollout_id)
    session.commit()
    send_now(issued)
    rollout = rollouts.get_rollout(session, user, rollout_id)
    return json_response(_rollout_out(rollout, [c.id for c in issued]))


@configuration_api.get("/devices/<device_id>/settings")
@documented(
    "A device's settings: the layered ones in force and those other domains keep (session "
    "limits, portal, kiosks, out of service), where each comes from, and whether its agent "
    "reads it",
    response=dict[str, SettingOut],
    auth="staff",
    errors={403: "outside your places", 404: "no such device"},
)
def get_device_settings(device_id: str) -> Response:
    session = db_session()
    device = fleet.get_device(session, signed_in(), device_id)
    shown = render.device_settings(
        session, device, settings_of(current_app), domain_settings_of(current_app)
    )
    return json_response(
        {
            name: SettingOut(s.value, s.source, s.source_name, s.version, s.agent_reads)
            for name, s in shown.items()
        }
    )


RELEASE_ERRORS = {
    401: "unknown device or wrong secret",
    404: "the controller has no wheel of this version",
}


def _releases_dir() -> Path:
    return settings_of(current_app).releases_dir


def _authenticated_device() -> None:
    device_id, secret = basic_credentials()
    session = db_session()
    authenticate_device(session, device_id, secret)
    session.commit()  # a new secret's first use promotes it


@configuration_api.get("/agent/releases")
@documented(
    "The releases of borne the controller serves its agents, oldest version first",
    response=list[AgentRelease],
    auth="staff",
)
def list_agent_releases() -> Response:
    signed_in()
    return json_response(releases.list_releases(_releases_dir()))


@configuration_api.get("/agent/releases/<version>")
@documented(
    "A release of borne this device may be told to run: its wheel's name, size and SHA-256",
    response=AgentRelease,
    auth="device",
    errors=RELEASE_ERRORS,
)
def get_agent_release(version: str) -> Response:
    _authenticated_device()
    return json_response(releases.find(_releases_dir(), version))


@configuration_api.get("/agent/releases/<version>/wheel")
@documented(
    "The wheel of a release of borne (application/octet-stream): the agent checks its SHA-256 "
    "against the release's before installing it",
    auth="device",
    errors=RELEASE_ERRORS,
)
def get_agent_wheel(version: str) -> Response:
    _authenticated_device()
    folder = _releases_dir()
    release = releases.find(folder, version)
    return send_file(
        releases.wheel_path(folder, release),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=release.filename,
        conditional=False,
        etag=release.sha256,
    )

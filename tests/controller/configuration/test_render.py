"""The one module that renders and sends every device's settings
(controller/configuration/render.py): each device is sent what its agent reads, an owner sends
only its own settings, a new device starts with the layers' and the domains' settings, and the
device's settings say where each comes from; on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select

import controller
from agent.protocol import AGENT_FEATURES, DeviceKind, UpdateConfigArgs
from controller.access import Role
from controller.commands import service as commands
from controller.commands.models import Command
from controller.configuration import catalogue, layers, render
from controller.configuration.render import Owner
from controller.errors import DomainError, NotFound, PermissionDenied
from controller.fleet import enrolment
from controller.hotspots import service as hotspots
from controller.maintenance import out_of_service
from tests.controller.testkit import sign_in
from tests.factories import enrol_request, make_device, make_site, make_user

LIMITS = {"idle_timeout_s": 600, "max_session_s": 0}
LOCALE = {"site_language": "fr", "site_timezone": "Europe/Paris"}


def all_commands(db) -> list[Command]:
    return list(db.scalars(select(Command)))


def test_an_agent_without_a_feature_gets_the_command_without_its_fields(db):
    site = make_site(db)
    newer = make_device(db, site, agent_features=list(AGENT_FEATURES))
    older = make_device(db, site)  # says nothing: an agent older than the site's locale

    issued = render.send_settings(
        db, "cli", [newer, older.id], {**LIMITS, **LOCALE}, owner=Owner.PUBLIC_PCS
    )

    args = {c.device_id: c.args for c in issued}
    assert args == {newer.id: {**LIMITS, **LOCALE}, older.id: LIMITS}
    assert {c.name for c in issued} == {"update_config"}


def test_devices_that_read_the_same_are_sent_one_batch(db):
    site = make_site(db)
    newer = [make_device(db, site, agent_features=["site_locale"]) for _ in range(2)]
    older = make_device(db, site)

    issued = render.send_settings(
        db, "cli", [*newer, older], {**LIMITS, **LOCALE}, owner=Owner.PUBLIC_PCS
    )

    batches = {c.device_id: c.batch_id for c in issued}
    assert batches[newer[0].id] is not None and batches[newer[0].id] == batches[newer[1].id]
    assert batches[older.id] is None  # a batch of one


def test_a_device_left_with_nothing_gets_no_command(db):
    older = make_device(db, metrics={"state": {"session": "none"}})

    issued = render.send_settings(
        db, "cli", [older], {"out_of_service": True}, owner=Owner.MAINTENANCE
    )

    assert issued == [] and all_commands(db) == []


def test_a_setting_the_owner_does_not_keep_is_refused_and_nothing_is_sent(db):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT)

    with pytest.raises(DomainError, match="hotspots does not keep idle_timeout_s") as refused:
        render.send_settings(
            db, "cli", [hotspot], {"portal_mode": "click", **LIMITS}, owner=Owner.HOTSPOTS
        )

    assert refused.value.code == "not_owner" and refused.value.status == 422
    assert all_commands(db) == []


@pytest.mark.parametrize(
    ("devices", "values", "error"),
    [
        (1, {"idle_timeout_s": 5}, DomainError),  # below what an agent takes
        (0, LIMITS, NotFound),
    ],
)
def test_bad_input_is_refused_whole(db, devices, values, error):
    site = make_site(db)
    pcs = [make_device(db, site).id for _ in range(2)][:devices] + ["no-such-device"][devices:]

    with pytest.raises(error):
        render.send_settings(db, "cli", pcs, values, owner=Owner.PUBLIC_PCS)

    assert all_commands(db) == []


def test_a_device_outside_the_senders_places_is_refused(db):
    here, there = make_site(db), make_site(db)
    technician = make_user(db, Role.TECHNICIAN, sites=[here])

    with pytest.raises(PermissionDenied):
        render.send_settings(
            db, technician, [make_device(db, there)], LIMITS, owner=Owner.PUBLIC_PCS
        )


def test_settings_wait_as_long_as_their_owner_says(db):
    kiosk = make_device(db, kind=DeviceKind.KIOSK)

    [command] = render.send_settings(
        db, "cli", [kiosk], {"kiosk_help_text": "À l'accueil"}, owner=Owner.LOCKERS,
        ttl=timedelta(days=60),
    )  # fmt: skip

    assert command.expires_at - command.created_at == timedelta(days=60)


def test_every_kept_setting_has_an_owner_and_owners_keep_only_settings():
    fields = set(UpdateConfigArgs.__struct_fields__)
    kept = set().union(*render.OWNED.values())

    assert kept <= fields
    assert set(commands.OWNED_SETTINGS) <= kept
    assert fields - kept == {"device_name"}  # staff send it as a command
    assert render.OWNED[Owner.LAYERS] == set(catalogue.LAYERED)


def test_only_the_renderer_issues_update_config():
    """No module but render.py names UPDATE_CONFIG in a call, nor sends owned settings: the
    staff's own "Update settings" command names it from what they typed, not in the code."""
    root = Path(controller.__file__).parent
    found = set()
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            names_it = any(
                isinstance(arg, ast.Attribute) and arg.attr == "UPDATE_CONFIG"
                for arg in [*node.args, *(k.value for k in node.keywords)]
            )
            owned = any(k.arg == "owned_settings" for k in node.keywords)
            if names_it or owned:
                found.add(path.relative_to(root).as_posix())

    assert found == {"configuration/render.py"}


# --- a new device ----------------------------------------------------------------------------


def _enrol(db, app, site, kind=DeviceKind.PC, features=()):
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))
    request = msgspec.structs.replace(enrol_request(issued.token, kind), features=list(features))
    return enrolment.enrol(
        db,
        request,
        heartbeat_interval_s=10,
        starting_settings=enrolment.starting_settings_of(app),
    )


def test_a_new_pc_starts_with_the_layers_and_its_sites_limits_as_far_as_it_reads(db, app):
    site = make_site(db, idle_timeout_min=20, max_session_min=None)
    target = layers.find_target(db, "cli", "site", str(site.id))
    layers.save_version(db, "cli", target, {"inventory_interval_s": 3600})

    newer = _enrol(db, app, site, features=AGENT_FEATURES).remote_settings
    older = _enrol(db, app, site).remote_settings

    expected = {"inventory_interval_s": 3600, "idle_timeout_s": 1200, "max_session_s": 0}
    assert msgspec.to_builtins(older) == expected
    assert msgspec.to_builtins(newer) == {**expected, **LOCALE}
    assert all_commands(db) == []  # nothing else in anyone's command list


def test_a_new_kiosk_starts_with_its_sites_rules_hours_and_time_zone(db, app):
    site = make_site(db, opening_hours="Mo-Fr 09:00-18:00")

    answer = _enrol(db, app, site, kind=DeviceKind.KIOSK)  # an agent that lists nothing

    assert answer.remote_settings is not None
    assert answer.remote_settings.kiosk_opening_hours == "Mo-Fr 09:00-18:00"
    assert answer.remote_settings.site_timezone == "Europe/Paris"  # every kiosk reads it


# --- a device's settings -----------------------------------------------------------------------


def test_a_devices_settings_say_where_each_comes_from_and_whether_its_agent_reads_it(client, db):
    pc = make_device(db, make_site(db, idle_timeout_min=20))  # an agent that lists nothing
    sign_in(client, make_user(db, Role.ADMIN))

    shown = client.get(f"/api/v1/devices/{pc.id}/settings").get_json()

    assert shown["heartbeat_interval_s"]["source"] == "default"
    assert shown["idle_timeout_s"] == {
        "value": 1200,
        "source": "public_pcs",
        "source_name": "the site's page (session limits)",
        "version": 0,
        "agent_reads": True,
    }
    assert shown["site_language"]["agent_reads"] is False  # not sent to it


def test_a_kiosks_staff_pins_are_shown_hidden(client, db):
    kiosk = make_device(db, kind=DeviceKind.KIOSK)
    admin = make_user(db, Role.ADMIN)
    admin.kiosk_pin_hash = "pbkdf2_sha256$1$salt$hash"
    db.flush()
    sign_in(client, admin)

    shown = client.get(f"/api/v1/devices/{kiosk.id}/settings").get_json()

    assert shown["kiosk_staff_pins"]["value"] == commands.HIDDEN
    assert shown["kiosk_staff_pins"]["source"] == "lockers"
    assert shown["site_timezone"]["source"] == "lockers"


def test_the_hotspots_and_out_of_service_values_are_their_domains(db, settings):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT, agent_features=list(AGENT_FEATURES))
    hotspots.portal_config(db, hotspot)
    out_of_service.set_out_of_service(db, "cli", hotspot, True, "antenna replaced")
    providers = [
        lambda session, device: hotspots.hotspot_settings(session, device, timezone="UTC"),
        out_of_service.service_settings,
    ]

    shown = render.device_settings(db, hotspot, settings, providers)

    assert shown["portal_mode"].source == "hotspots" and shown["portal_timezone"].value == "UTC"
    assert shown["portal_code_secret"].value == commands.HIDDEN
    assert shown["portal_nearby_places"].agent_reads
    assert (shown["out_of_service"].value, shown["out_of_service"].source) == (True, "maintenance")
    assert shown["out_of_service"].source_name == "the device's page (out of service)"

"""Staff API for hotspots (controller/hotspots/api.py): the portal's settings and the day's code."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agent.protocol import PortalModeName
from controller.access import Role
from controller.commands.models import Command
from controller.hotspots import service as hotspot_portal
from controller.hotspots.models import HotspotPortal
from tests.controller.testkit import sign_in
from tests.factories import make_device, make_hotspot, make_site, make_user

SETTINGS = {"mode": "code", "follow_site_hours": False, "session_min": 120}


def test_admin_puts_the_portal_and_gets_it_back_with_the_code(client, db):
    hotspot = make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.put(f"/api/v1/devices/{hotspot.id}/portal", json=SETTINGS)
    read = client.get(f"/api/v1/devices/{hotspot.id}/portal").get_json()

    assert answer.status_code == 200
    body = answer.get_json()
    issued = db.scalars(select(Command)).one()
    assert body["commands"] == [issued.id] and issued.device_id == hotspot.id
    assert {k: body[k] for k in SETTINGS} == SETTINGS
    assert body["managed"] and body["opening_hours"] == ""  # open at all hours
    assert read["code_of_the_day"] is not None and len(read["code_of_the_day"]) == 7  # "123 456"
    assert read["commands"] == []


def test_mediator_reads_the_code_but_never_the_secret_and_may_not_put(client, db):
    site = make_site(db)
    hotspot = make_hotspot(db, site, mode=PortalModeName.CODE)
    secret = hotspot_portal.portal_config(db, hotspot).code_secret
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    read = client.get(f"/api/v1/devices/{hotspot.id}/portal")
    put = client.put(f"/api/v1/devices/{hotspot.id}/portal", json=SETTINGS)

    assert read.status_code == 200 and read.get_json()["code_of_the_day"]
    assert read.get_json()["opening_hours"] == ""  # open at all hours: the default
    assert secret not in read.get_data(as_text=True)
    assert put.status_code == 403 and put.get_json()["error"] == "forbidden"
    assert db.get(HotspotPortal, hotspot.id).session_min == 240


def test_the_secret_stays_out_of_the_command_list(client, db):
    hotspot = make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))
    client.put(f"/api/v1/devices/{hotspot.id}/portal", json=SETTINGS)
    secret = db.get(HotspotPortal, hotspot.id).code_secret

    listed = client.get(f"/api/v1/commands?device_id={hotspot.id}")

    assert listed.get_json()[0]["args"]["portal_code_secret"] == "(hidden)"
    assert secret not in listed.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SETTINGS, "mode": "open"}, "mode"),
        ({**SETTINGS, "session_min": 10}, "session_min"),
        ({**SETTINGS, "session_min": 2000}, "session_min"),
        ({"mode": "click"}, "follow_site_hours"),
    ],
)
def test_bad_portal_settings_answer_422_and_change_nothing(client, db, body, field):
    hotspot = make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.put(f"/api/v1/devices/{hotspot.id}/portal", json=body)

    assert answer.status_code == 422 and field in answer.get_json()["message"]
    assert db.get(HotspotPortal, hotspot.id) is None


def test_unknown_device_is_404_and_a_pc_has_no_portal(client, db):
    pc = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))
    unknown = f"/api/v1/devices/{uuid.uuid4()}/portal"

    assert client.get(unknown).status_code == 404
    assert client.put(unknown, json=SETTINGS).status_code == 404
    refused = client.get(f"/api/v1/devices/{pc.id}/portal")
    assert refused.status_code == 400 and refused.get_json()["error"] == "not_a_hotspot"


def test_the_portal_routes_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()

    operations = document["paths"]["/api/v1/devices/{device_id}/portal"]
    assert {"get", "put"} <= set(operations)
    assert {"403", "404", "422"} <= set(operations["put"]["responses"])

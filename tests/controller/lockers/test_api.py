"""Staff API for charging kiosks' lockers (controller/lockers/api.py): a kiosk's lockers (never a
code), the lockers free at a site's kiosks, and a remote opening refused in words when it must
be."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agent.protocol import CommandName, LockerState
from controller.access import Role
from controller.accounts import api_tokens
from controller.commands.models import Command
from tests.controller.testkit import audit_actions, sign_in
from tests.factories import make_device, make_site, make_user


def test_a_kiosks_lockers_as_it_reported_them_and_never_a_code(client, db, reported_kiosk):
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[reported_kiosk.site]))

    answer = client.get(f"/api/v1/devices/{reported_kiosk.id}/lockers")

    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["name"], body["free"], body["total"], body["troubled"]) == (
        "borne-hall",
        4,
        8,
        2,
    )
    assert body["driver_ok"] is True and body["reported_at"].startswith("2026-12-10T10:00:00")
    assert body["lockers"][2] == {
        "number": 3,
        "state": "overtime",
        "door": "closed",
        "since": "2026-12-10T09:57:00Z",
    }
    assert "code" not in answer.get_data(as_text=True)


def test_a_site_lists_lockers_free_per_kiosk(client, db, reported_kiosk, make_kiosk):
    silent = make_kiosk(reported_kiosk.site, name="borne-neuve")
    sign_in(client, make_user(db, Role.MANAGER, sites=[reported_kiosk.site]))

    answer = client.get(f"/api/v1/sites/{reported_kiosk.site_id}/lockers")

    assert answer.status_code == 200
    assert [
        (k["device_id"], k["free"], k["total"], k["reported_at"] is None, k["lockers"])
        for k in answer.get_json()
    ] == [(reported_kiosk.id, 4, 8, False, []), (silent.id, 0, 0, True, [])]


def test_reading_lockers_is_refused_in_words_where_it_must_be(app, client, db, reported_kiosk):
    pc = make_device(db, reported_kiosk.site, name="pc-accueil")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[make_site(db)]))

    outside = client.get(f"/api/v1/devices/{reported_kiosk.id}/lockers")
    other_site = client.get(f"/api/v1/sites/{reported_kiosk.site_id}/lockers")
    no_site = client.get(f"/api/v1/sites/{2**63}/lockers")
    no_device = client.get("/api/v1/devices/no-such-device/lockers")

    assert (outside.status_code, other_site.status_code) == (403, 403)
    assert "outside the places you cover" in outside.get_json()["message"]
    assert (no_site.status_code, no_device.status_code) == (404, 404)
    admin = app.test_client()
    sign_in(admin, make_user(db, Role.ADMIN))
    not_a_kiosk = admin.get(f"/api/v1/devices/{pc.id}/lockers")
    assert not_a_kiosk.status_code == 404
    assert not_a_kiosk.get_json() == {
        "error": "not_a_kiosk",
        "message": "pc-accueil is not a charging kiosk: it has no lockers",
    }


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TECHNICIAN])
def test_admins_and_technicians_open_a_locker_from_afar(client, db, reported_kiosk, role):
    user = make_user(db, role, sites=[reported_kiosk.site])
    sign_in(client, user)

    answer = client.post(
        f"/api/v1/devices/{reported_kiosk.id}/lockers/3/open",
        json={"reason": "phone past its time, owner at the desk"},
    )

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["device_id"], body["locker"], body["state"]) == (reported_kiosk.id, 3, "sent")
    command = db.get(Command, body["command_id"])
    assert command.name == CommandName.OPEN_LOCKER
    assert command.args == {
        "locker": 3,
        "staff": user.username,
        "reason": "phone past its time, owner at the desk",
    }
    assert "locker.open_requested" in audit_actions(db, user)


@pytest.mark.parametrize("role", [Role.MEDIATOR, Role.MANAGER])
def test_mediators_and_managers_are_refused_a_remote_opening(client, db, reported_kiosk, role):
    sign_in(client, make_user(db, role, sites=[reported_kiosk.site]))

    answer = client.post(
        f"/api/v1/devices/{reported_kiosk.id}/lockers/3/open", json={"reason": "a resident asks"}
    )

    assert answer.status_code == 403
    assert "open it at the kiosk with your PIN" in answer.get_json()["message"]
    assert db.scalar(select(func.count()).select_from(Command)) == 0


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("lockers/0/open", {"reason": "jammed"}, 404, "no_such_locker"),
        ("lockers/99/open", {"reason": "jammed"}, 404, "no_such_locker"),
        ("lockers/3/open", {"reason": ""}, 422, "reason_required"),
        ("lockers/3/open", {"reason": "  "}, 422, "reason_required"),
        ("lockers/3/open", {}, 422, "invalid_request"),
        ("lockers/3/open", {"reason": "x" * 201}, 422, "invalid_request"),
        ("lockers/3/open", {"reason": "jammed", "code": "123456"}, 422, "invalid_request"),
    ],
)
def test_a_remote_opening_with_bad_input_is_refused_and_sends_nothing(
    client, db, reported_kiosk, path, body, status, error
):
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(f"/api/v1/devices/{reported_kiosk.id}/{path}", json=body)

    assert (answer.status_code, answer.get_json()["error"]) == (status, error)
    assert answer.get_json()["message"]
    assert db.scalar(select(func.count()).select_from(Command)) == 0


def test_a_remote_opening_of_what_is_no_kiosk_or_outside_ones_places_is_refused(
    app, client, db, reported_kiosk, make_kiosk
):
    pc = make_device(db, reported_kiosk.site)
    silent = make_kiosk(reported_kiosk.site)
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[make_site(db)]))

    outside = client.post(
        f"/api/v1/devices/{reported_kiosk.id}/lockers/3/open", json={"reason": "jammed"}
    )
    admin = app.test_client()
    sign_in(admin, make_user(db, Role.ADMIN))
    not_a_kiosk = admin.post(f"/api/v1/devices/{pc.id}/lockers/1/open", json={"reason": "x"})
    never_reported = admin.post(
        f"/api/v1/devices/{silent.id}/lockers/1/open", json={"reason": "jammed"}
    )
    not_json = admin.post(
        f"/api/v1/devices/{reported_kiosk.id}/lockers/3/open", data={"reason": "jammed"}
    )

    assert outside.status_code == 403
    assert (not_a_kiosk.status_code, not_a_kiosk.get_json()["error"]) == (404, "not_a_kiosk")
    assert never_reported.status_code == 409
    assert "has not reported its lockers yet" in never_reported.get_json()["message"]
    assert not_json.status_code == 415
    assert db.scalar(select(func.count()).select_from(Command)) == 0


def test_a_read_only_token_may_read_lockers_but_not_open_one(client, db, reported_kiosk):
    admin = make_user(db, Role.ADMIN)
    _, token = api_tokens.create_token(db, admin, admin, name="script", read_only=True)
    bearer = {"Authorization": f"Bearer {token}"}

    read = client.get(f"/api/v1/devices/{reported_kiosk.id}/lockers", headers=bearer)
    opened = client.post(
        f"/api/v1/devices/{reported_kiosk.id}/lockers/3/open",
        json={"reason": "jammed"},
        headers=bearer,
    )

    assert read.status_code == 200 and opened.status_code == 403
    assert db.scalar(select(func.count()).select_from(Command)) == 0


def test_the_lockers_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    assert "get" in paths["/api/v1/devices/{device_id}/lockers"]
    assert "get" in paths["/api/v1/sites/{site_id}/lockers"]
    opening = paths["/api/v1/devices/{device_id}/lockers/{number}/open"]["post"]
    assert {"201", "403", "404", "409", "422"} <= set(opening["responses"])
    assert LockerState.OVERTIME in str(client.get("/api/v1/openapi.json").get_json())

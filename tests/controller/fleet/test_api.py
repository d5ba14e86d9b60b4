"""The fleet's API (controller/fleet/api.py): enrolment, agent events, staff reads; bad input gets
a 4xx."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from controller.access import Role
from controller.fleet.models import Device, DeviceEvent, EnrolmentToken
from tests.controller.testkit import count, sign_in
from tests.factories import make_device, make_site, make_user

INVENTORY = {
    "hostname": "pc-1",
    "os_name": "Debian",
    "os_version": "12",
    "kernel": "6.1",
    "cpu_model": "Celeron",
    "cpu_count": 2,
    "ram_bytes": 4 << 30,
}


def heartbeat(seq: int) -> dict:
    return {
        "type": "heartbeat",
        "seq": seq,
        "at": datetime.now(UTC).isoformat(),
        "interval_s": 10,
        "metrics": {
            "cpu_percent": 3.0,
            "memory_total_bytes": 100,
            "memory_used_bytes": 50,
            "memory_percent": 50.0,
            "uptime_s": 10,
        },
    }


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def create_token(db, **kwargs) -> str:
    from datetime import timedelta

    from controller.fleet import enrolment

    return enrolment.create_token(
        db, "cli", kwargs.pop("site", None) or make_site(db), ttl=timedelta(hours=1), **kwargs
    ).token


@pytest.fixture
def enrolled(own_app):
    with own_app.extensions["borne.db"].session() as session:
        device = make_device(session, secret="s3cret-for-tests")
        return device.id


def test_enrol_answers_201_with_an_identity(client, db):
    response = client.post(
        "/api/v1/enrol", json={"token": create_token(db), "kind": "pc", "inventory": INVENTORY}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {
        "device_id", "device_secret", "site_id", "kind", "heartbeat_interval_s", "remote_settings"
    }  # fmt: skip
    # A public PC starts with its site's session limits.
    assert body["remote_settings"] == {"idle_timeout_s": 900, "max_session_s": 0}
    assert db.get(Device, body["device_id"]).name == "pc-1"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"token": "bet_unknown-token", "kind": "pc", "inventory": INVENTORY},
            403,
            "token_unknown",
        ),
        (
            {"token": "bet_unknown-token", "kind": "toaster", "inventory": INVENTORY},
            422,
            "invalid_request",
        ),
        (
            {"token": "bet_unknown-token", "kind": "pc", "inventory": INVENTORY, "extra": 1},
            422,
            "invalid_request",
        ),
        ({"kind": "pc", "inventory": INVENTORY}, 422, "invalid_request"),
        ([1, 2, 3], 422, "invalid_request"),
    ],
)
def test_bad_enrolment_requests_get_a_clear_4xx_and_store_nothing(client, db, body, status, code):
    response = client.post("/api/v1/enrol", json=body)
    assert response.status_code == status
    assert response.get_json()["error"] == code
    assert response.get_json()["message"]
    assert count(db, Device) == 0


def test_reused_token_answers_409(client, db):
    token = create_token(db)
    body = {"token": token, "kind": "pc", "inventory": INVENTORY}
    assert client.post("/api/v1/enrol", json=body).status_code == 201
    again = client.post("/api/v1/enrol", json=body)
    assert again.status_code == 409 and again.get_json()["error"] == "token_used"
    assert count(db, Device) == 1 and count(db, EnrolmentToken) == 1


def test_agent_events_are_stored_and_acknowledged(own_app, enrolled):
    client = own_app.test_client()
    response = client.post(
        "/api/v1/agent/events",
        json={"events": [heartbeat(1), heartbeat(2)]},
        headers=basic(enrolled, "s3cret-for-tests"),
    )
    assert response.status_code == 200
    assert response.get_json() == {"acked_seq": 2, "stored": 2}


@pytest.mark.parametrize(
    "credentials",
    [("{device}", "wrong"), ("11111111-1111-1111-1111-111111111111", "x"), ("not-a-uuid", "x")],
)
def test_agent_events_with_bad_credentials_get_401_and_store_nothing(
    own_app, enrolled, credentials
):
    user, password = credentials
    response = own_app.test_client().post(
        "/api/v1/agent/events",
        json={"events": [heartbeat(1)]},
        headers=basic(user.format(device=enrolled), password),
    )
    assert response.status_code == 401
    assert response.get_json()["message"] == "unknown device or wrong secret"
    with own_app.extensions["borne.db"].session() as session:
        assert count(session, DeviceEvent) == 0


def test_agent_events_without_authentication_get_401(own_app):
    response = own_app.test_client().post("/api/v1/agent/events", json={"events": [heartbeat(1)]})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "events",
    [
        [],  # empty batch
        [{**heartbeat(1), "seq": 0}],  # seq starts at 1
        [{**heartbeat(1), "surprise": True}],  # unknown field
        [{**heartbeat(1), "type": "reboot-now"}],  # unknown event type
        [{**heartbeat(1), "metrics": {"cpu_percent": 400}}],  # out of range
    ],
)
def test_invalid_events_get_422_and_nothing_is_stored(own_app, enrolled, events):
    response = own_app.test_client().post(
        "/api/v1/agent/events", json={"events": events}, headers=basic(enrolled, "s3cret-for-tests")
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_event"
    with own_app.extensions["borne.db"].session() as session:
        assert count(session, DeviceEvent) == 0


def test_staff_api_needs_a_signed_in_user(client):
    response = client.get("/api/v1/devices")
    assert response.status_code == 401


def test_mediator_lists_only_devices_of_their_sites(client, db):
    mine, other = make_site(db), make_site(db)
    device = make_device(db, mine)
    make_device(db, other)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[mine]))

    listed = client.get("/api/v1/devices").get_json()
    assert [d["id"] for d in listed] == [device.id]
    assert client.get(f"/api/v1/devices/{device.id}").status_code == 200
    forbidden = client.get(f"/api/v1/devices/{make_device(db, other).id}")
    assert forbidden.status_code == 403


def test_technician_creates_a_token_through_the_api(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.TECHNICIAN, organisations=[site.organisation]))

    response = client.post(
        "/api/v1/enrolment-tokens", json={"site_id": site.id, "kind": "pc", "ttl_hours": 2}
    )
    assert response.status_code == 201
    assert response.get_json()["token"].startswith("bet_")


def test_manager_may_not_create_tokens(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MANAGER, organisations=[site.organisation]))
    response = client.post("/api/v1/enrolment-tokens", json={"site_id": site.id})
    assert response.status_code == 403
    assert count(db, EnrolmentToken) == 0


def test_bad_site_filter_is_refused(client, db):
    sign_in(client, make_user(db, Role.ADMIN))
    response = client.get("/api/v1/devices?site_id=abc")
    assert response.status_code == 400 and "site_id" in response.get_json()["message"]


def test_a_device_sending_beyond_its_volume_gets_429_and_sends_again_later(make_own_app):
    app = make_own_app(device_bytes_per_day=2000)
    with app.extensions["borne.db"].session() as session:
        device_id = make_device(session, secret="s3cret-s3cret").id
    client = app.test_client()
    headers = basic(device_id, "s3cret-s3cret")
    first = client.post("/api/v1/agent/events", json={"events": [heartbeat(1)]}, headers=headers)
    flood = client.post(
        "/api/v1/agent/events",
        json={"events": [heartbeat(n) for n in range(2, 12)]},
        headers=headers,
    )
    assert first.status_code == 200
    assert flood.status_code == 429 and flood.get_json()["error"] == "rate_limited"
    assert int(flood.headers["Retry-After"]) >= 1

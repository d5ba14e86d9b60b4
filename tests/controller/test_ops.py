"""/healthz and /metrics (controller/ops.py, controller/metrics.py)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from controller.db import utcnow
from controller.fleet.models import DeviceStatus
from controller.maintenance import service as alerts
from controller.maintenance.models import AlertKind
from tests.factories import make_device, make_site


def samples(client, name: str) -> list:
    text = client.get("/metrics").get_data(as_text=True)
    return [
        s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def test_healthz_says_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok"}


def test_metrics_count_devices_by_site_kind_and_status(client, db):
    site = make_site(db, slug="bib-centre")
    make_device(db, site, status=DeviceStatus.ONLINE, last_seen_at=utcnow())
    make_device(db, site, status=DeviceStatus.ONLINE, last_seen_at=utcnow())
    make_device(
        db,
        site,
        kind="kiosk",
        status=DeviceStatus.OFFLINE,
        last_seen_at=utcnow() - timedelta(minutes=5),
    )

    counts = {
        (s.labels["site"], s.labels["kind"], s.labels["status"]): s.value
        for s in samples(client, "borne_devices")
    }
    assert counts == {("bib-centre", "pc", "online"): 2, ("bib-centre", "kiosk", "offline"): 1}


def test_metrics_give_each_devices_heartbeat_age(client, db):
    device = make_device(db, last_seen_at=utcnow() - timedelta(seconds=42))
    ages = {
        s.labels["device"]: s.value for s in samples(client, "borne_device_heartbeat_age_seconds")
    }
    assert 41 < ages[device.id] < 60


def test_metrics_count_open_alerts_by_site(client, db):
    site = make_site(db, slug="mdh-teisseire")
    pc = make_device(db, site)
    alerts.raise_alert(db, pc, AlertKind.WIPE_INCOMPLETE, "left a file", utcnow())
    other = make_device(db, site)
    alerts.raise_alert(db, other, AlertKind.WIPE_INCOMPLETE, "left a file", utcnow())
    alerts.resolve_alert(db, other.id, AlertKind.WIPE_INCOMPLETE, "clean", utcnow())
    db.flush()

    counts = {
        (s.labels["site"], s.labels["kind"]): s.value for s in samples(client, "borne_alerts_open")
    }
    assert counts == {("mdh-teisseire", "wipe_incomplete"): 1}


def test_metrics_time_http_requests_by_route_not_by_path(client):
    client.get("/api/v1/devices/some-id")
    client.get("/api/v1/devices/other-id")
    endpoints = {
        s.labels["endpoint"] for s in samples(client, "borne_http_request_duration_seconds_count")
    }
    assert "/api/v1/devices/<device_id>" in endpoints
    assert not any("some-id" in e for e in endpoints)


def test_two_apps_keep_separate_registries(app, own_app):
    assert app.extensions["borne.metrics"] is not own_app.extensions["borne.metrics"]


def test_pages_forbid_inline_scripts_and_framing(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_metrics_are_read_from_this_machine_only_without_a_token(client):
    assert client.get("/metrics").status_code == 200  # the test client is on loopback
    from_elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert from_elsewhere.status_code == 403
    assert "metrics_token" in from_elsewhere.get_json()["message"]


def test_with_a_token_metrics_need_it_from_anywhere(make_app):
    client = make_app(metrics_token="scrape-me-please").test_client()
    elsewhere = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = client.get(
        "/metrics",
        headers={"Authorization": "Bearer scrape-me-please"},
        environ_base=elsewhere,
    )
    assert right.status_code == 200 and "borne_devices" in right.get_data(as_text=True)

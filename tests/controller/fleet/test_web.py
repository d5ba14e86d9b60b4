"""The fleet's pages (controller/fleet/web.py): the fleet, a device's page, enrolment tokens."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from controller.access import Role
from controller.audit import AuditLog
from controller.fleet import enrolment
from controller.fleet.models import DeviceStatus, EnrolmentToken
from tests.controller.testkit import audit_actions, count, csrf_token, sign_in
from tests.factories import make_device, make_site, make_user


def test_mediator_sees_devices_of_their_site_only(client, db):
    site_a, site_b = make_site(db, name="Library A"), make_site(db, name="Library B")
    mine = make_device(db, site_a, name="pc-of-a", status=DeviceStatus.ONLINE)
    theirs = make_device(db, site_b, name="pc-of-b")
    mediator = make_user(db, Role.MEDIATOR, sites=[site_a])
    sign_in(client, mediator)

    fleet = client.get("/").get_data(as_text=True)

    assert "pc-of-a" in fleet and f'data-device-id="{mine.id}"' in fleet
    assert "pc-of-b" not in fleet and "Library B" not in fleet
    assert client.get(f"/devices/{mine.id}").status_code == 200
    assert client.get(f"/devices/{theirs.id}").status_code == 403
    assert client.get(f"/sites/{site_b.id}").status_code == 403
    assert client.get(f"/?site={site_b.id}").status_code == 403


def test_fleet_shows_status_in_words_and_counts_per_site(client, db):
    site = make_site(db, name="Maison des Habitants")
    make_device(db, site, name="pc-1", status=DeviceStatus.ONLINE, metrics={"cpu_percent": 42.4})
    make_device(db, site, name="pc-2", status=DeviceStatus.OFFLINE)
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/?site={site.id}").get_data(as_text=True)

    assert ">Online</span>" in page and ">Offline</span>" in page
    assert "42 %" in page
    card = page[page.index(f'class="site-card" data-site-id="{site.id}"') :]
    assert re.search(r'data-count="online">1<', card) and re.search(
        r'data-count="offline">1<', card
    )
    assert 'data-live="/live"' in page and "socket.io.min.js" in page


def test_device_page_shows_metrics_and_inventory(client, db):
    device = make_device(
        db,
        status=DeviceStatus.ONLINE,
        metrics={"cpu_percent": 12.5, "memory_percent": 25.0, "uptime_s": 7200, "load": [0.5]},
        inventory={"hostname": "pc-accueil", "serial": "SN-4242", "macs": ["aa:bb:cc:dd:ee:ff"]},
    )
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/devices/{device.id}").get_data(as_text=True)

    for shown in ("13 %", "25 %", "2 h", "SN-4242", "aa:bb:cc:dd:ee:ff", ">Online</span>"):
        assert shown in page


def test_admin_creates_a_token_and_sees_the_command_once(client, db):
    site = make_site(db, name="Bibliothèque Centre-Ville")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

    answer = client.post(
        "/tokens",
        data={
            "site": site.id,
            "kind": "",
            "validity_hours": "24",
            "note": "PC by the window",
            "csrf_token": csrf_token(client, "/tokens"),
        },
    )

    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    token = re.search(r"bet_[A-Za-z0-9_-]+", page).group(0)
    assert f"borne agent enrol --controller http://localhost --token {token}" in page
    assert "token.create" in audit_actions(db, admin)
    listing = client.get("/tokens").get_data(as_text=True)
    assert "PC by the window" in listing and "Not used yet" in listing
    assert token not in listing


def test_token_for_a_kiosk_tells_the_agent_its_kind(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.post(
        "/tokens",
        data={
            "site": site.id,
            "kind": "kiosk",
            "validity_hours": "2",
            "csrf_token": csrf_token(client, "/tokens"),
        },
    ).get_data(as_text=True)

    assert re.search(r"--token bet_[A-Za-z0-9_-]+ --kind kiosk", page)


def test_technician_cannot_create_a_token_for_a_site_outside_their_scope(client, db):
    mine, other = make_site(db), make_site(db)
    technician = make_user(db, Role.TECHNICIAN, sites=[mine])
    sign_in(client, technician)
    before = count(db, EnrolmentToken)

    form = client.get("/tokens").get_data(as_text=True)
    answer = client.post(
        "/tokens",
        data={
            "site": other.id,
            "validity_hours": "24",
            "csrf_token": csrf_token(client, "/tokens"),
        },
    )

    assert f'value="{other.id}"' not in form
    assert answer.status_code == 400
    assert count(db, EnrolmentToken) == before


def test_domain_error_on_the_token_form_is_shown_and_nothing_stored(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))
    before = count(db, EnrolmentToken)

    answer = client.post(
        "/tokens",
        data={
            "site": site.id,
            "validity_hours": "1000",
            "csrf_token": csrf_token(client, "/tokens"),
        },
    )

    assert answer.status_code == 400
    assert "a token lives between a minute and 30 days" in answer.get_data(as_text=True)
    assert count(db, EnrolmentToken) == before


def test_an_unused_token_is_revoked_from_the_tokens_page(client, db):
    site = make_site(db, name="MDH Teisseire")
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1), note="PC 3")
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get("/tokens").get_data(as_text=True)
    assert "Revoke the token for MDH Teisseire, PC 3" in page
    answer = client.post(
        f"/tokens/{issued.record.id}/revoke", data={"csrf_token": csrf_token(client, "/tokens")}
    )

    assert answer.status_code == 302
    listing = client.get("/tokens").get_data(as_text=True)
    assert "Revoked" in listing and "revoked: it enrols nothing now" in listing
    assert "token.revoke" in [e.action for e in db.scalars(select(AuditLog))]

"""The fleet's pages (controller/fleet/web.py): the fleet, a device's page, enrolment tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agent import protocol
from agent.protocol import DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.db import utcnow
from controller.fleet import enrolment
from controller.fleet.ingest import _Pending, write_events
from controller.fleet.models import DeviceStatus, EnrolmentToken
from tests.controller.testkit import (
    audit_actions,
    count,
    csrf_token,
    page_text,
    sign_in,
    words,
)
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


# --- a status that tells the truth ----------------------------------------------------------


def _locked_by_a_wipe(db, event_handlers, pc):
    """The PC's wipe left something: it locked its guest login, an alert opened."""
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    report = protocol.WipeReport(
        seq=1, at=now, started_at=now, ready_ms=150, wipe_ms=2100, removed_files=4200,
        removed_bytes=12 << 20, leftovers_total=1, login_locked=True,
        leftovers=[protocol.Leftover(area="tmp", path="/tmp/cv.pdf", reason="immutable")],
    )  # fmt: skip
    write_events(db, [_Pending(pc.id, [report])], handlers=event_handlers)


def _row(page: str, device_id: str) -> str:
    start = page.index(f'<tr data-device-id="{device_id}"')
    return page[start : page.index("</tr>", start)]


def test_a_pc_whose_login_is_locked_says_so_in_every_list(client, db, event_handlers):
    site = make_site(db, name="MDH Teisseire")
    locked = make_device(db, site, name="pc-locked", status=DeviceStatus.ONLINE)
    fine = make_device(db, site, name="pc-fine", status=DeviceStatus.ONLINE)
    _locked_by_a_wipe(db, event_handlers, locked)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    fleet = client.get("/").get_data(as_text=True)
    site_page = client.get(f"/sites/{site.id}").get_data(as_text=True)
    device_page = client.get(f"/devices/{locked.id}").get_data(as_text=True)

    for row in (_row(fleet, locked.id), _row(site_page, locked.id)):
        assert ">Login locked</span>" in row and ">Open alert</span>" in row
        assert 'class="condition flagged"' in row
    assert "Login locked" not in _row(fleet, fine.id)
    header = device_page[device_page.index('class="device-condition"') :]
    assert header.index(">Login locked</span>") < header.index(">Online</span>")
    only_locked = client.get("/?concern=login_locked").get_data(as_text=True)
    assert locked.id in only_locked and fine.id not in only_locked
    attention = client.get("/?concern=any").get_data(as_text=True)
    assert locked.id in attention and fine.id not in attention


def test_an_offline_device_shows_when_it_was_last_seen_not_its_last_load(client, db):
    site = make_site(db)
    gone = make_device(
        db, site, name="pc-gone", status=DeviceStatus.OFFLINE, metrics={"cpu_percent": 87.0},
        last_seen_at=utcnow() - timedelta(hours=3),
    )  # fmt: skip
    sign_in(client, make_user(db, Role.ADMIN))

    row = _row(client.get("/").get_data(as_text=True), gone.id)
    page = words(client.get(f"/devices/{gone.id}"))

    assert "87 %" not in row and 'data-field="last_seen_at" datetime=' in row and " ago<" in row
    assert "Not live. Last reading 87 %, 3 hr. ago." in page


def test_the_fleet_is_searched_filtered_and_sorted_without_javascript(client, db):
    site, other = make_site(db, name="Library A"), make_site(db, name="Library B")
    make_device(db, site, name="PC by the window", inventory={"hostname": "pc-salle-7"})
    make_device(db, other, name="Borne hall", kind=DeviceKind.KIOSK)
    make_device(db, other, name="pc-annexe", status=DeviceStatus.OFFLINE)
    sign_in(client, make_user(db, Role.ADMIN))

    def shown(query: str) -> list[str]:
        page = client.get(f"/?{query}")
        assert page.status_code == 200
        return re.findall(
            r'<th scope="row">\s*<a href="/devices/[^"]+">([^<]+)</a>', page_text(page)
        )

    assert shown("q=salle-7") == ["PC by the window"]
    assert shown("kind=kiosk") == ["Borne hall"]
    assert shown("status=offline") == ["pc-annexe"]
    assert shown(f"site={other.id}&sort=name") == ["Borne hall", "pc-annexe"]
    assert shown("sort=site")[0] == "PC by the window"
    assert shown("kind=toaster&sort=sideways") == shown("")  # an edited link shows everything
    page = client.get("/?q=salle-7").get_data(as_text=True)
    assert 'value="salle-7"' in page and "Show every device" in page


def test_inventory_details_are_for_technicians_and_admins(client, db):
    site = make_site(db)
    device = make_device(
        db, site,
        inventory={"hostname": "pc-1", "kernel": "6.1.0-13-amd64", "macs": ["aa:bb:cc:dd:ee:ff"]},
    )  # fmt: skip
    for role, sees in [(Role.MEDIATOR, False), (Role.MANAGER, False), (Role.TECHNICIAN, True)]:
        with client.session_transaction() as browser_session:
            browser_session.clear()
        sign_in(client, make_user(db, role, sites=[site]))
        page = client.get(f"/devices/{device.id}").get_data(as_text=True)
        assert ("aa:bb:cc:dd:ee:ff" in page) is sees, role
        assert ("6.1.0-13-amd64" in page) is sees, role
        assert ("Technical details" in page) is sees, role
        assert "pc-1" in page  # the host name is for everyone


# --- rename, move, retire ------------------------------------------------------------------


def test_a_technician_renames_moves_and_retires_a_device_from_its_page(client, db):
    here, there = make_site(db, name="Library A"), make_site(db, name="Library B")
    device = make_device(db, here, name="pc-salle-7")
    technician = make_user(db, Role.TECHNICIAN, sites=[here, there])
    sign_in(client, technician)
    page = f"/devices/{device.id}"

    renamed = client.post(
        f"{page}/name", data={"name": "PC by the window", "csrf_token": csrf_token(client, page)}
    )
    moved = client.post(
        f"{page}/site", data={"site": there.id, "csrf_token": csrf_token(client, page)}
    )
    form = client.get(page).get_data(as_text=True)
    retired = client.post(f"{page}/retire", data={"csrf_token": csrf_token(client, page)})

    assert renamed.status_code == moved.status_code == retired.status_code == 302
    db.refresh(device)
    assert device.name == "PC by the window" and device.site_id == there.id
    assert device.retired_at is not None
    assert "Its history (sessions, wipes, commands, audit log) is kept" in form
    assert {"device.rename", "device.move", "device.retire"} <= set(audit_actions(db, technician))
    assert device.id not in client.get("/").get_data(as_text=True)
    retired_list = client.get("/?status=retired").get_data(as_text=True)
    assert device.id in retired_list and ">Retired</span>" in retired_list
    assert "Retired " in words(client.get(page))


def test_a_device_cannot_move_to_a_site_outside_the_technicians_places(client, db):
    here, elsewhere = make_site(db), make_site(db, name="Elsewhere")
    device = make_device(db, here)
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[here]))
    page = f"/devices/{device.id}"

    answer = client.post(
        f"{page}/site", data={"site": elsewhere.id, "csrf_token": csrf_token(client, page)}
    )

    assert answer.status_code == 400
    assert "Choose one of the sites in the list." in page_text(answer)
    assert "Elsewhere" not in page_text(answer)
    db.refresh(device)
    assert device.site_id == here.id


def test_mediators_and_managers_get_no_rename_move_or_retire(client, db):
    site = make_site(db)
    device = make_device(db, site)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    page = f"/devices/{device.id}"

    assert "Retire this device" not in client.get(page).get_data(as_text=True)
    answer = client.post(f"{page}/retire", data={"csrf_token": csrf_token(client, page)})
    assert answer.status_code == 403
    db.refresh(device)
    assert device.retired_at is None

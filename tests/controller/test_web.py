"""The staff web UI (controller/web/): sign-in, scopes, CSRF, tokens, users, audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from controller.choices import DeviceStatus, Role
from controller.models import AuditLog, EnrolmentToken, User
from controller.web.views import safe_next
from tests.factories import PASSWORD, make_device, make_organisation, make_site, make_user

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client, user: User, password: str = PASSWORD, next_: str = ""):
    return client.post(
        "/login",
        data={
            "username": user.username,
            "password": password,
            "csrf_token": csrf_token(client),
            "next": next_,
        },
    )


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def audit_actions(db, user: User) -> list[str]:
    return list(db.scalars(select(AuditLog.action).where(AuditLog.actor_id == user.id)))


# --- signing in and out ---------------------------------------------------------------------------


def test_login_signs_in_and_is_audited(client, db):
    user = make_user(db, Role.ADMIN)

    answer = log_in(client, user)

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert "user.login" in audit_actions(db, user)


def test_pages_send_anonymous_visitors_to_the_login_page(client):
    answer = client.get("/devices/whatever")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")


def test_wrong_password_and_unknown_user_get_the_same_message_and_no_session(client, db):
    user = make_user(db, Role.ADMIN)

    wrong = log_in(client, user, password="not the password")
    unknown = client.post(
        "/login",
        data={"username": "nobody", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )

    for answer in (wrong, unknown):
        assert answer.status_code == 401
        assert "Unknown username or wrong password." in answer.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out
    assert audit_actions(db, user) == []


def test_login_goes_back_to_a_local_page_only(client, db):
    user = make_user(db, Role.ADMIN)

    assert log_in(client, user, next_="/audit").headers["Location"] == "/audit"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert log_in(client, user, next_="https://evil.example/").headers["Location"] == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/sites/3", "/sites/3"),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_only_relative_paths_are_safe_to_redirect_to(target, expected):
    assert safe_next(target) == expected


def test_post_without_csrf_token_is_refused_and_stores_nothing(client, db):
    admin = make_user(db, Role.ADMIN)
    site = make_site(db)

    refused_login = client.post("/login", data={"username": admin.username, "password": PASSWORD})
    assert refused_login.status_code == 400
    assert audit_actions(db, admin) == []

    log_in(client, admin)
    before = count(db, EnrolmentToken), count(db, User)
    refused_token = client.post(
        "/tokens", data={"site": site.id, "kind": "", "validity_hours": "24"}
    )
    refused_user = client.post(
        "/users",
        data={"username": "intruder", "role": "admin", "password": "long enough password"},
    )

    assert refused_token.status_code == 400 and refused_user.status_code == 400
    assert "nothing was changed" in refused_token.get_data(as_text=True)
    assert (count(db, EnrolmentToken), count(db, User)) == before


def test_logout_requires_post_with_csrf(client, db):
    user = make_user(db, Role.ADMIN)
    log_in(client, user)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200  # still signed in

    answer = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert "user.logout" in audit_actions(db, user)


# --- the fleet, within scope ----------------------------------------------------------------------


def test_mediator_sees_devices_of_their_site_only(client, db):
    site_a, site_b = make_site(db, name="Library A"), make_site(db, name="Library B")
    mine = make_device(db, site_a, name="pc-of-a", status=DeviceStatus.ONLINE)
    theirs = make_device(db, site_b, name="pc-of-b")
    mediator = make_user(db, Role.MEDIATOR, sites=[site_a])
    log_in(client, mediator)

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
    log_in(client, make_user(db, Role.ADMIN))

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
    log_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/devices/{device.id}").get_data(as_text=True)

    for shown in ("13 %", "25 %", "2 h", "SN-4242", "aa:bb:cc:dd:ee:ff", ">Online</span>"):
        assert shown in page


def test_site_page_shows_address_hours_and_services(client, db):
    site = make_site(
        db, address="10 rue de la République", services=["Wifi"], opening_hours="Tu-Sa 10:00-18:00"
    )
    log_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/sites/{site.id}").get_data(as_text=True)

    assert "10 rue de la République" in page and "Tu-Sa 10:00-18:00" in page and "Wifi" in page


# --- what each role may open ----------------------------------------------------------------------


def test_manager_cannot_open_tokens_users_or_audit(client, db):
    manager = make_user(db, Role.MANAGER, organisations=[make_organisation(db)])
    log_in(client, manager)

    for path in ("/tokens", "/users", "/audit"):
        assert client.get(path).status_code == 403, path
    navigation = client.get("/").get_data(as_text=True)
    assert 'href="/tokens"' not in navigation and 'href="/users"' not in navigation


def test_technician_enrols_but_does_not_manage_users(client, db):
    organisation = make_organisation(db)
    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation])
    log_in(client, technician)

    assert client.get("/tokens").status_code == 200
    assert client.get("/users").status_code == 403
    navigation = client.get("/").get_data(as_text=True)
    assert 'href="/tokens"' in navigation and 'href="/users"' not in navigation


# --- enrolment tokens -----------------------------------------------------------------------------


def test_admin_creates_a_token_and_sees_the_command_once(client, db):
    site = make_site(db, name="Bibliothèque Centre-Ville")
    admin = make_user(db, Role.ADMIN)
    log_in(client, admin)

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
    log_in(client, make_user(db, Role.ADMIN))

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
    log_in(client, technician)
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
    log_in(client, make_user(db, Role.ADMIN))
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


# --- users ----------------------------------------------------------------------------------------


def test_admin_adds_a_user_through_the_form_and_it_is_audited(client, db):
    site = make_site(db, name="MDH Teisseire")
    admin = make_user(db, Role.ADMIN)
    log_in(client, admin)

    answer = client.post(
        "/users",
        data={
            "username": "camille",
            "full_name": "Camille Martin",
            "role": "mediator",
            "sites": [str(site.id)],
            "password": "a long enough password",
            "csrf_token": csrf_token(client, "/users"),
        },
    )

    assert answer.status_code == 302
    created = db.scalar(select(User).where(User.username == "camille"))
    assert created.role == Role.MEDIATOR and [s.site_id for s in created.scopes] == [site.id]
    assert "user.create" in audit_actions(db, admin)
    listing = client.get("/users").get_data(as_text=True)
    assert "camille" in listing and "MDH Teisseire" in listing and "added as mediator" in listing


def test_a_refused_user_shows_why_next_to_the_form_and_stores_nothing(client, db):
    log_in(client, make_user(db, Role.ADMIN))
    before = count(db, User)

    answer = client.post(
        "/users",
        data={
            "username": "dominique",
            "role": "mediator",
            "password": "a long enough password",
            "csrf_token": csrf_token(client, "/users"),
        },
    )

    assert answer.status_code == 400
    assert "must cover at least one organisation or site" in answer.get_data(as_text=True)
    assert count(db, User) == before


# --- audit log ------------------------------------------------------------------------------------


def test_audit_log_lists_recent_actions_newest_first(client, db):
    admin = make_user(db, Role.ADMIN)
    log_in(client, admin)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    log_in(client, admin)

    page = client.get("/audit").get_data(as_text=True)

    assert page.index("user.login") < page.index("user.logout")
    assert admin.username in page


def test_technician_sees_their_own_actions_in_the_audit_log_not_everyone_elses(client, db):
    organisation = make_organisation(db)
    admin = make_user(db, Role.ADMIN)
    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation])
    log_in(client, admin)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    log_in(client, technician)

    page = client.get("/audit").get_data(as_text=True)

    assert f"{technician.username} signed in" in page
    assert f"{admin.username} signed in" not in page


def test_error_pages_use_the_layout_with_the_reason(client, db):
    log_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/devices/00000000-0000-0000-0000-000000000000")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert '<html lang="en"' in page and "Skip to main content" in page
    assert "No device 00000000-0000-0000-0000-000000000000" in page

"""The accounts' pages (controller/accounts/web.py): sign-in and out, CSRF, roles, users, the audit
log."""

from __future__ import annotations

from sqlalchemy import select

from controller.access import Role
from controller.accounts import service as users
from controller.accounts.models import User
from controller.audit import AuditLog
from controller.fleet.models import EnrolmentToken
from tests.controller.testkit import audit_actions, count, csrf_token, sign_in
from tests.factories import PASSWORD, make_organisation, make_site, make_user


def test_login_signs_in_and_is_audited(client, db):
    user = make_user(db, Role.ADMIN)

    answer = sign_in(client, user)

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert "user.login" in audit_actions(db, user)


def test_pages_send_anonymous_visitors_to_the_login_page(client):
    answer = client.get("/devices/whatever")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")


def test_wrong_password_and_unknown_user_get_the_same_message_and_no_session(client, db):
    user = make_user(db, Role.ADMIN)

    wrong = sign_in(client, user, password="not the password")
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

    assert sign_in(client, user, next_="/audit").headers["Location"] == "/audit"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert sign_in(client, user, next_="https://evil.example/").headers["Location"] == "/"


def test_post_without_csrf_token_is_refused_and_stores_nothing(client, db):
    admin = make_user(db, Role.ADMIN)
    site = make_site(db)

    refused_login = client.post("/login", data={"username": admin.username, "password": PASSWORD})
    assert refused_login.status_code == 400
    assert audit_actions(db, admin) == []

    sign_in(client, admin)
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
    sign_in(client, user)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200  # still signed in

    answer = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert "user.logout" in audit_actions(db, user)


def test_manager_cannot_open_tokens_users_or_audit(client, db):
    manager = make_user(db, Role.MANAGER, organisations=[make_organisation(db)])
    sign_in(client, manager)

    for path in ("/tokens", "/users", "/audit"):
        assert client.get(path).status_code == 403, path
    navigation = client.get("/").get_data(as_text=True)
    assert 'href="/tokens"' not in navigation and 'href="/users"' not in navigation


def test_technician_enrols_but_does_not_manage_users(client, db):
    organisation = make_organisation(db)
    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation])
    sign_in(client, technician)

    assert client.get("/tokens").status_code == 200
    assert client.get("/users").status_code == 403
    navigation = client.get("/").get_data(as_text=True)
    assert 'href="/tokens"' in navigation and 'href="/users"' not in navigation


def test_admin_adds_a_user_through_the_form_and_it_is_audited(client, db):
    site = make_site(db, name="MDH Teisseire")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

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
    sign_in(client, make_user(db, Role.ADMIN))
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


def test_audit_log_lists_recent_actions_newest_first(client, db):
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, admin)

    page = client.get("/audit").get_data(as_text=True)

    assert page.index("user.login") < page.index("user.logout")
    assert admin.username in page


def test_technician_sees_their_own_actions_in_the_audit_log_not_everyone_elses(client, db):
    organisation = make_organisation(db)
    admin = make_user(db, Role.ADMIN)
    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation])
    sign_in(client, admin)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, technician)

    page = client.get("/audit?sign_ins=y").get_data(as_text=True)

    assert f"{technician.username} signed in" in page
    assert f"{admin.username} signed in" not in page


def test_a_storm_of_wrong_passwords_is_held_with_429_and_retry_after(client, db):
    user = make_user(db, Role.ADMIN)
    for _ in range(5):
        assert sign_in(client, user, password="not the password").status_code == 401

    held = sign_in(client, user, password="still guessing")
    right_one = sign_in(client, user)  # even the right password waits: nothing is checked

    for answer in (held, right_one):
        assert answer.status_code == 429
        assert 1 <= int(answer.headers["Retry-After"]) <= 30
        assert "Too many failed attempts" in answer.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out


def test_failed_sign_ins_are_audited_and_counted_never_with_what_was_typed(client, db):
    user = make_user(db, Role.ADMIN)
    sign_in(client, user, password="not the password")
    client.post(
        "/login",
        data={"username": "my-secret-pass", "password": "x", "csrf_token": csrf_token(client)},
    )

    failed = db.scalars(select(AuditLog).where(AuditLog.action == "user.login_failed")).all()
    assert [(entry.target_id, entry.summary) for entry in failed] == [
        (str(user.id), f"failed sign-in as {user.username}"),
        ("unknown", "failed sign-in, unknown account"),
    ]
    assert all("my-secret-pass" not in str(entry.detail) for entry in failed)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'borne_sign_in_failures_total{reason="wrong_credentials"} 2.0' in metrics


def test_a_cookie_copied_before_sign_out_reads_nothing_afterwards(app, db):
    user = make_user(db, Role.ADMIN)
    browser = app.test_client()
    sign_in(browser, user)
    thief = app.test_client()
    cookie = browser.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    assert thief.get("/api/v1/devices").status_code == 200  # the copy works, for now

    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})

    assert thief.get("/api/v1/devices").status_code == 401
    assert thief.get("/").status_code == 302  # to the sign-in page


def test_disabling_an_account_ends_its_sessions_at_once(app, db):
    mediator = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    client = app.test_client()
    sign_in(client, mediator)
    assert client.get("/").status_code == 200

    users.set_active(db, make_user(db, Role.ADMIN), mediator, False)
    db.flush()

    assert client.get("/").status_code == 302
    assert sign_in(client, mediator).status_code == 401  # and no new one


def test_people_change_their_own_password_and_their_other_sessions_end(app, db):
    user = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, user)
    sign_in(elsewhere, user)

    wrong = here.post(
        "/account/password",
        data={
            "current": "not it",
            "new": "a brand new passphrase",
            "csrf_token": csrf_token(here, "/account/password"),
        },
    )
    changed = here.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "csrf_token": csrf_token(here, "/account/password"),
        },
    )

    assert wrong.status_code == 400 and "current password is not that one" in wrong.get_data(
        as_text=True
    )
    assert changed.status_code == 302
    assert here.get("/").status_code == 200  # this session goes on
    assert elsewhere.get("/").status_code == 302  # the others end
    assert sign_in(app.test_client(), user, password="a brand new passphrase").status_code == 302
    assert "user.password" in audit_actions(db, user)


def test_the_audit_log_says_actions_in_words_and_names_its_targets(client, db):
    admin = make_user(db, Role.ADMIN, username="robin")
    mediator = make_user(db, Role.MEDIATOR, username="amina", sites=[make_site(db)])
    users.set_active(db, admin, mediator, False)
    db.flush()
    sign_in(client, admin)

    page = client.get("/audit")
    rows = log_rows(page)

    assert "Account disabled" in rows and "user.disable" not in rows
    assert f'<a href="/users/{mediator.id}">amina</a>' in rows
    assert '<option value="robin">robin</option>' in page.get_data(as_text=True)
    assert '<option value="user.disable">Account disabled</option>' in page.get_data(as_text=True)


def test_signing_in_and_out_is_folded_away_unless_asked_for(client, db):
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)
    users.set_active(db, admin, make_user(db, Role.MANAGER, sites=[make_site(db)]), False)
    db.flush()

    folded = log_rows(client.get("/audit"))
    shown = log_rows(client.get("/audit?sign_ins=y"))
    asked = log_rows(client.get("/audit?action=user.login"))

    assert "Signed in" not in folded and "Account disabled" in folded
    assert "Signed in" in shown and "Signed in" in asked


def log_rows(answer) -> str:
    """The audit page's entries, without its filters (whose lists name every action)."""
    page = answer.get_data(as_text=True)
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""

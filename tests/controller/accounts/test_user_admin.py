"""An admin's page for one account (controller/accounts/web.py): role and places, password reset,
disable and enable, API tokens; every change ends the account's sessions and is audited."""

from __future__ import annotations

from controller.access import Role
from controller.accounts import api_tokens
from controller.accounts.models import User
from tests.controller.testkit import audit_actions, csrf_token, page_text, sign_in
from tests.factories import make_organisation, make_site, make_user


def post(client, path: str, page: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def test_changing_a_role_and_places_ends_the_persons_sessions(app, db):
    old_site, new_org = make_site(db), make_organisation(db)
    admin = make_user(db, Role.ADMIN)
    mediator = make_user(db, Role.MEDIATOR, sites=[old_site])
    theirs = app.test_client()
    sign_in(theirs, mediator)
    client = app.test_client()
    sign_in(client, admin)
    page = f"/users/{mediator.id}"

    changed = post(
        client, f"/users/{mediator.id}/access", page, role="technician", organisations=[new_org.id]
    )

    assert changed.status_code == 302
    db.expire_all()
    person = db.get(User, mediator.id)
    assert person.role == "technician"
    assert [(s.organisation_id, s.site_id) for s in person.scopes] == [(new_org.id, None)]
    assert theirs.get("/").status_code == 302  # signed out: they sign in with their new rights
    assert "user.update" in audit_actions(db, admin)


def test_a_role_without_places_is_refused_in_place_and_changes_nothing(app, db):
    site = make_site(db)
    admin = make_user(db, Role.ADMIN)
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    client = app.test_client()
    sign_in(client, admin)

    refused = post(client, f"/users/{mediator.id}/access", f"/users/{mediator.id}", role="manager")

    assert refused.status_code == 400
    assert "must cover at least one organisation or site" in page_text(refused)
    db.expire_all()
    assert db.get(User, mediator.id).role == "mediator"


def test_an_admin_resets_a_password_and_the_persons_sessions_end(app, db):
    admin = make_user(db, Role.ADMIN)
    mediator = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    theirs = app.test_client()
    sign_in(theirs, mediator)
    client = app.test_client()
    sign_in(client, admin)

    short = post(client, f"/users/{mediator.id}/password", "/users", password="short")
    reset = post(
        client, f"/users/{mediator.id}/password", "/users", password="a new long passphrase"
    )

    assert short.status_code == 400 and "at least 10 characters" in page_text(short)
    assert reset.status_code == 302
    assert theirs.get("/").status_code == 302
    assert sign_in(app.test_client(), mediator, password="a new long passphrase").status_code == 302
    assert "user.password" in audit_actions(db, admin)


def test_disabling_stops_sessions_and_tokens_and_enabling_gives_them_back(app, db):
    admin = make_user(db, Role.ADMIN)
    technician = make_user(db, Role.TECHNICIAN, sites=[make_site(db)])
    _, secret = api_tokens.create_token(db, technician, technician, name="script")
    theirs = app.test_client()
    sign_in(theirs, technician)
    client = app.test_client()
    sign_in(client, admin)
    script = {"Authorization": f"Bearer {secret}"}

    post(client, f"/users/{technician.id}/disable", f"/users/{technician.id}")
    while_disabled = (theirs.get("/").status_code, client.get("/api/v1/devices", headers=script))
    post(client, f"/users/{technician.id}/enable", f"/users/{technician.id}")

    assert while_disabled[0] == 302 and while_disabled[1].status_code == 401
    assert client.get("/api/v1/devices", headers=script).status_code == 200
    assert {"user.disable", "user.enable"} <= set(audit_actions(db, admin))


def test_the_last_admin_can_be_neither_disabled_nor_demoted_from_the_pages(app, db):
    admin = make_user(db, Role.ADMIN)
    client = app.test_client()
    sign_in(client, admin)
    page = f"/users/{admin.id}"

    disabled = post(client, f"/users/{admin.id}/disable", page)
    demoted = post(
        client, f"/users/{admin.id}/access", page, role="technician", sites=[make_site(db).id]
    )

    for answer in (disabled, demoted):
        assert answer.status_code == 409
        assert "last active admin" in page_text(answer)
    db.expire_all()
    assert db.get(User, admin.id).active and db.get(User, admin.id).role == "admin"


def test_only_those_who_manage_users_open_an_account_page(app, db):
    technician = make_user(db, Role.TECHNICIAN, sites=[make_site(db)])
    other = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    client = app.test_client()
    sign_in(client, technician)

    assert client.get(f"/users/{other.id}").status_code == 403
    refused = post(client, f"/users/{other.id}/disable", "/")
    assert refused.status_code == 403
    db.expire_all()
    assert db.get(User, other.id).active


def test_an_admin_sees_and_revokes_a_persons_tokens_from_their_page(app, db):
    admin = make_user(db, Role.ADMIN)
    technician = make_user(db, Role.TECHNICIAN, sites=[make_site(db)])
    token, _ = api_tokens.create_token(db, technician, technician, name="their script")
    client = app.test_client()
    sign_in(client, admin)
    page = f"/users/{technician.id}"
    assert "their script" in page_text(client.get(page))

    revoked = post(client, f"/account/tokens/{token.id}/revoke", page, next=page)

    assert revoked.status_code == 302 and revoked.headers["Location"] == page
    db.expire_all()
    assert api_tokens.state(api_tokens.find_token(db, token.id)) == "revoked"

"""Personal API tokens (controller/accounts/api_tokens.py): Bearer authentication for scripts,
scoped like the owner or read-only, hashed, expiring, revocable, last use shown."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from controller.access import Role
from controller.accounts import api_tokens
from controller.accounts import service as users
from controller.accounts.models import ApiToken
from controller.audit import AuditLog
from controller.commands.models import Command
from controller.db import utcnow
from tests.controller.testkit import audit_actions, count, csrf_token, sign_in
from tests.factories import make_device, make_site, make_user


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_made_on_its_page_is_shown_once_and_stored_only_as_a_digest(client, db):
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

    made = client.post(
        "/account/tokens",
        data={
            "name": "ansible inventory",
            "days": "30",
            "csrf_token": csrf_token(client, "/account/tokens"),
        },
    )

    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    token = db.scalar(select(ApiToken).where(ApiToken.user_id == admin.id))
    page = made.get_data(as_text=True)
    secret = page.split('id="token">', 1)[1].split("<", 1)[0]
    assert secret.startswith("bat_") and len(secret) > 40
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str([token.name, token.hint, token.secret_hash])
    assert (token.expires_at - utcnow()).days in (29, 30)
    listed = client.get("/account/tokens").get_data(as_text=True)
    assert "ansible inventory" in listed and secret not in listed
    assert "api_token.create" in audit_actions(db, admin)


def test_a_script_reads_the_api_with_a_token_and_gets_no_session_cookie(app, db):
    admin = make_user(db, Role.ADMIN)
    make_device(db, name="pc-accueil")
    _, secret = api_tokens.create_token(db, admin, admin, name="probe")
    script = app.test_client()

    answer = script.get("/api/v1/devices", headers=bearer(secret))

    assert answer.status_code == 200
    assert "pc-accueil" in answer.get_data(as_text=True)
    assert "Set-Cookie" not in answer.headers  # a script keeps no session


def test_a_token_sees_only_the_places_its_owner_covers(app, db):
    mine, other = make_site(db), make_site(db)
    make_device(db, mine, name="pc-mine")
    make_device(db, other, name="pc-other")
    technician = make_user(db, Role.TECHNICIAN, sites=[mine])
    _, secret = api_tokens.create_token(db, technician, technician, name="script")

    names = [
        d["name"] for d in app.test_client().get("/api/v1/devices", headers=bearer(secret)).json
    ]

    assert names == ["pc-mine"]


def test_a_read_only_token_reads_and_changes_nothing(app, db):
    admin = make_user(db, Role.ADMIN)
    device = make_device(db)
    _, secret = api_tokens.create_token(db, admin, admin, name="dashboard", read_only=True)
    script = app.test_client()

    read = script.get("/api/v1/devices", headers=bearer(secret))
    write = script.post(
        "/api/v1/commands",
        json={"name": "reboot", "device_ids": [device.id]},
        headers=bearer(secret),
    )

    assert read.status_code == 200
    assert write.status_code == 403 and write.json["error"] == "read_only_token"
    assert count(db, Command) == 0


def test_a_token_acts_as_its_owner_and_the_audit_says_who(app, db):
    admin = make_user(db, Role.ADMIN)
    device = make_device(db)
    token, secret = api_tokens.create_token(db, admin, admin, name="automation")

    sent = app.test_client().post(
        "/api/v1/commands",
        json={"name": "reboot", "device_ids": [device.id]},
        headers=bearer(secret),
    )

    assert sent.status_code == 201
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "command.issue"))
    assert entry.actor_id == admin.id and entry.detail["via_api_token"] == token.id


def test_revoked_expired_and_disabled_owners_tokens_are_refused_with_a_bearer_challenge(app, db):
    admin = make_user(db, Role.ADMIN)
    owner = make_user(db, Role.TECHNICIAN, sites=[make_site(db)])
    revoked, revoked_secret = api_tokens.create_token(db, owner, owner, name="revoked")
    expired, expired_secret = api_tokens.create_token(db, owner, owner, name="expired", days=1)
    _, disabled_secret = api_tokens.create_token(db, owner, owner, name="owner disabled")
    api_tokens.revoke_token(db, admin, revoked)
    expired.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    script = app.test_client()

    answers = {
        "unknown": script.get("/api/v1/devices", headers=bearer("bat_not-a-token")),
        "revoked": script.get("/api/v1/devices", headers=bearer(revoked_secret)),
        "expired": script.get("/api/v1/devices", headers=bearer(expired_secret)),
    }
    users.set_active(db, admin, owner, False)
    db.flush()
    answers["disabled"] = script.get("/api/v1/devices", headers=bearer(disabled_secret))

    for why, answer in answers.items():
        assert answer.status_code == 401, why
        assert answer.json["error"] == "invalid_token", why
        assert answer.headers["WWW-Authenticate"].startswith("Bearer"), why
    assert "revoked" in answers["revoked"].json["message"]
    assert "expired" in answers["expired"].json["message"]
    assert "disabled" in answers["disabled"].json["message"]


def test_a_request_with_a_token_is_judged_by_the_token_not_by_its_cookie(app, db):
    admin = make_user(db, Role.ADMIN)
    browser = app.test_client()
    sign_in(browser, admin)

    answer = browser.get("/api/v1/devices", headers=bearer("bat_wrong"))

    assert answer.status_code == 401


def test_a_token_opens_no_page(app, db):
    admin = make_user(db, Role.ADMIN)
    _, secret = api_tokens.create_token(db, admin, admin, name="script")

    answer = app.test_client().get("/", headers=bearer(secret))

    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_the_last_use_is_noted_at_most_once_a_minute(app, db):
    admin = make_user(db, Role.ADMIN)
    token, secret = api_tokens.create_token(db, admin, admin, name="probe")
    script = app.test_client()
    assert token.last_used_at is None

    script.get("/api/v1/devices", headers=bearer(secret))
    db.expire_all()
    first = db.get(ApiToken, token.id).last_used_at
    script.get("/api/v1/devices", headers=bearer(secret))
    db.expire_all()

    assert first is not None and utcnow() - first < timedelta(minutes=1)
    assert db.get(ApiToken, token.id).last_used_at == first


def test_owners_revoke_their_own_tokens_and_nobody_elses(client, db):
    owner = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    other = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    theirs, _ = api_tokens.create_token(db, other, other, name="theirs")
    mine, _ = api_tokens.create_token(db, owner, owner, name="mine")
    sign_in(client, owner)
    token = csrf_token(client, "/account/tokens")

    refused = client.post(f"/account/tokens/{theirs.id}/revoke", data={"csrf_token": token})
    revoked = client.post(f"/account/tokens/{mine.id}/revoke", data={"csrf_token": token})

    assert refused.status_code == 404  # another's token is not even shown to exist
    assert revoked.status_code == 302
    db.expire_all()
    assert db.get(ApiToken, theirs.id).revoked_at is None
    assert db.get(ApiToken, mine.id).revoked_at is not None
    assert "api_token.revoke" in audit_actions(db, owner)


def test_a_token_needs_a_name_and_a_bounded_life(client, db):
    sign_in(client, make_user(db, Role.ADMIN))

    nameless = client.post(
        "/account/tokens",
        data={"name": " ", "days": "30", "csrf_token": csrf_token(client, "/account/tokens")},
    )
    forever = client.post(
        "/account/tokens",
        data={"name": "x", "days": "100000", "csrf_token": csrf_token(client, "/account/tokens")},
    )

    assert nameless.status_code == 400 and forever.status_code == 400
    assert count(db, ApiToken) == 0


def test_the_cli_makes_lists_and_revokes_tokens(run, tmp_path):
    run("user", "add", "ops", "--role", "admin", "--password-stdin", input="long enough password\n")

    made = run("api-token", "create", "ops", "--name", "ansible", "--days", "7", "--read-only")
    secret = made.stdout.strip()
    listed = run("api-token", "list", "ops")
    too_long = run("api-token", "create", "ops", "--name", "x", "--days", "1000")
    revoked = run("api-token", "revoke", "1")
    after = run("api-token", "list", "ops")

    assert made.exit_code == 0 and secret.startswith("bat_") and "\n" not in secret
    assert "not shown again" in made.stderr
    assert "active" in listed.output and "ansible" in listed.output and "read-only" in listed.output
    assert secret not in listed.output
    assert too_long.exit_code == 2 and "1000" in too_long.output
    assert revoked.exit_code == 0 and "revoked token 1 (ansible) of ops" in revoked.output
    assert "revoked" in after.output
    assert count(tmp_path, ApiToken) == 1


def test_the_openapi_document_declares_bearer_tokens_for_staff_operations(client):
    document = client.get("/api/v1/openapi.json").json

    assert document["components"]["securitySchemes"]["staffToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["staffToken"]["description"],
    }
    send = document["paths"]["/api/v1/commands"]["post"]
    assert {"staffToken": []} in send["security"] and {"staffSession": []} in send["security"]

"""Public PCs on the staff pages: "Reset now" per PC on the site page for those who may reset,
and the device page's proof that each wipe left nothing (or the alert when it did)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from agent import protocol
from agent.protocol import CommandName, DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.commands.models import Command
from controller.fleet.ingest import _Pending, write_events
from tests.controller.testkit import csrf_token, page_text, sign_in, words
from tests.factories import make_device, make_site, make_user


def test_mediator_sees_reset_now_beside_each_pc_of_their_site_only(client, db):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    make_device(db, site, name="gw-1", kind=DeviceKind.HOTSPOT)
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    sign_in(client, mediator)

    page = page_text(client.get(f"/sites/{site.id}"))

    assert 'Reset now…</span> <span class="visually-hidden">pc-accueil</span>' in page
    assert f'action="/devices/{pc.id}/commands"' in page
    assert '<span class="visually-hidden">gw-1</span>' not in page  # a hotspot: no session


def test_manager_sees_no_reset_button(client, db):
    site = make_site(db)
    make_device(db, site, name="pc-accueil")
    sign_in(client, make_user(db, Role.MANAGER, sites=[site]))

    page = page_text(client.get(f"/sites/{site.id}"))
    assert 'value="reset_session"' not in page and "Reset now…" not in page


def test_reset_now_from_the_site_page_is_issued_and_audited(client, db):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    sign_in(client, mediator)

    answer = client.post(
        f"/devices/{pc.id}/commands",
        data={
            "command": "reset_session",
            "confirmed": "yes",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
        headers={"Accept": "application/json"},
    )

    assert answer.status_code == 201
    assert (
        answer.get_json()["message"]
        == "Reset now: sent to pc-accueil. Follow it under Recent commands."
    )
    issued = db.scalars(select(Command)).one()
    assert issued.name == CommandName.RESET_SESSION and issued.device_id == pc.id
    assert db.scalars(select(AuditLog).where(AuditLog.actor_id == mediator.id)).first()


def test_device_page_shows_wipes_and_the_alert_while_something_is_left(client, db, event_handlers):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    left = protocol.Leftover(area="tmp", path="/tmp/cv\\nfinal.pdf", reason="immutable")
    report = protocol.WipeReport(
        seq=1, at=now, started_at=now, ready_ms=150, wipe_ms=2100, removed_files=4200,
        removed_bytes=12 << 20, leftovers=[left], leftovers_total=1, login_locked=True,
    )  # fmt: skip
    write_events(db, [_Pending(pc.id, [report])], handlers=event_handlers)

    page = page_text(client.get(f"/devices/{pc.id}"))

    assert "Out of service for residents." in page
    assert "/tmp/cv\\nfinal.pdf" in page and "1 left, login locked" in page
    assert "150 ms" in page and "4200 files" in page


def test_admin_sets_session_limits_and_the_pcs_are_told(client, db):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/session-limits",
        data={
            "idle_timeout_min": "10",
            "max_session_min": "",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
    )

    assert answer.status_code == 302 and answer.headers["Location"].endswith("#sessions")
    issued = db.scalars(select(Command)).one()
    assert issued.device_id == pc.id and issued.args == {"idle_timeout_s": 600, "max_session_s": 0}
    page = words(client.get(f"/sites/{site.id}"))
    assert "after 10 minutes without use" in page and "with no time limit" in page


def test_bad_session_limits_are_explained_and_nothing_changes(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/session-limits",
        data={
            "idle_timeout_min": "1",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
    )

    assert answer.status_code == 400
    assert "between 2 and 1440 minutes" in page_text(answer)
    assert site.idle_timeout_min == 15


def test_mediator_sees_the_limits_but_no_form(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    answer = client.get(f"/sites/{site.id}")

    assert "after 15 minutes without use" in words(answer)
    assert "/session-limits" not in page_text(answer)

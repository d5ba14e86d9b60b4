"""Public PCs on the staff pages: "Reset now" per PC on the site page for those who may reset,
and the device page's proof that each wipe left nothing (or the alert when it did)."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from sqlalchemy import select

from agent import protocol
from controller.choices import CommandName, DeviceKind, Role
from controller.ingest import _Pending, write_events
from controller.models import AuditLog, Command
from tests.controller.test_web import csrf_token, log_in
from tests.factories import make_device, make_site, make_user


def page_text(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def test_mediator_sees_reset_now_beside_each_pc_of_their_site_only(client, db):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    make_device(db, site, name="gw-1", kind=DeviceKind.HOTSPOT)
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    log_in(client, mediator)

    page = page_text(client.get(f"/sites/{site.id}"))

    assert 'aria-label="Reset pc-accueil now"' in page
    assert f'action="/devices/{pc.id}/commands"' in page
    assert "Reset gw-1 now" not in page  # a hotspot has no resident session


def test_manager_sees_no_reset_button(client, db):
    site = make_site(db)
    make_device(db, site, name="pc-accueil")
    log_in(client, make_user(db, Role.MANAGER, sites=[site]))

    assert "Reset pc-accueil now" not in page_text(client.get(f"/sites/{site.id}"))


def test_reset_now_from_the_site_page_is_issued_and_audited(client, db):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    log_in(client, mediator)

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


def test_device_page_shows_wipes_and_the_alert_while_something_is_left(client, db):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    log_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    left = protocol.Leftover(area="tmp", path="/tmp/cv\\nfinal.pdf", reason="immutable")
    report = protocol.WipeReport(
        seq=1, at=now, started_at=now, ready_ms=150, wipe_ms=2100, removed_files=4200,
        removed_bytes=12 << 20, leftovers=[left], leftovers_total=1, login_locked=True,
    )  # fmt: skip
    write_events(db, [_Pending(pc.id, [report])])

    page = page_text(client.get(f"/devices/{pc.id}"))

    assert "Out of service for residents." in page
    assert "/tmp/cv\\nfinal.pdf" in page and "1 left, login locked" in page
    assert "150 ms" in page and "4200 files" in page

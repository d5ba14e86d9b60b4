"""Staff API for public PCs (controller/public_pcs/api.py, maintenance/api.py): wipe reports,
alerts, session limits."""

from __future__ import annotations

from datetime import UTC, datetime

from agent import protocol
from controller.access import Role
from controller.fleet.ingest import _Pending, write_events
from tests.controller.testkit import sign_in
from tests.factories import make_device, make_site, make_user

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def report(seq: int, *leftovers: protocol.Leftover) -> protocol.WipeReport:
    return protocol.WipeReport(
        seq=seq, at=NOW, started_at=NOW, ready_ms=90, wipe_ms=800, removed_files=12,
        removed_bytes=4096, leftovers=list(leftovers), leftovers_total=len(leftovers),
        login_locked=bool(leftovers),
    )  # fmt: skip


def test_wipe_reports_and_alerts_are_listed_within_the_callers_places(client, db, event_handlers):
    mine, other = make_site(db), make_site(db)
    pc, elsewhere = make_device(db, mine), make_device(db, other)
    left = protocol.Leftover(area="home", path="a", reason="immutable")
    write_events(
        db,
        [_Pending(pc.id, [report(1, left)]), _Pending(elsewhere.id, [report(1, left)])],
        handlers=event_handlers,
    )
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[mine]))

    wipes = client.get(f"/api/v1/devices/{pc.id}/wipe-reports").get_json()
    alerts = client.get("/api/v1/alerts").get_json()

    assert [(w["clean"], w["leftovers"][0]["reason"]) for w in wipes] == [(False, "immutable")]
    assert [a["device_id"] for a in alerts] == [pc.id]
    assert client.get(f"/api/v1/devices/{elsewhere.id}/wipe-reports").status_code == 403


def test_session_limits_are_set_by_an_admin_and_checked(client, db):
    site = make_site(db)
    make_device(db, site)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.put(
        f"/api/v1/sites/{site.id}/session-limits",
        json={"idle_timeout_min": 10, "max_session_min": 120},
    )
    bad = client.put(f"/api/v1/sites/{site.id}/session-limits", json={"idle_timeout_min": 0})

    db.expire_all()
    assert answer.status_code == 200 and len(answer.get_json()["commands"]) == 1
    assert bad.status_code == 422 and "idle_timeout_min" in bad.get_json()["message"]
    assert site.idle_timeout_min == 10 and site.max_session_min == 120

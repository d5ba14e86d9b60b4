"""The audit log's CSV export and its filters (controller/accounts/audit_export.py and
audit_search.py), within the reader's scope."""

from __future__ import annotations

import csv
import io
import json

from controller.access import Role
from tests.controller.testkit import csrf_token, send, sign_in
from tests.factories import make_device, make_organisation, make_site, make_user


def read_csv(answer) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_audit_csv_has_the_header_and_the_commands(client, db):
    device = make_device(db, name="=HYPERLINK(evil)")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)
    send(client, f"/devices/{device.id}", "lock_screen")

    answer = client.get("/audit.csv")

    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    header = answer.get_data(as_text=True).splitlines()[0]
    assert header == "at,actor,action,target_type,target_id,summary,detail"
    issued = [r for r in read_csv(answer) if r["action"] == "command.issue"]
    assert len(issued) == 1
    assert issued[0]["actor"] == admin.username and issued[0]["target_id"] == device.id
    assert issued[0]["summary"] == "Lock the screen: =HYPERLINK(evil)"  # not a formula
    assert json.loads(issued[0]["detail"])["command"] == "lock_screen"


def test_audit_csv_and_page_respect_the_filters(client, db):
    first, second = make_device(db, name="pc-first"), make_device(db, name="pc-second")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)
    send(client, f"/devices/{first.id}", "lock_screen")
    send(client, f"/devices/{second.id}", "unlock_screen")

    by_target = read_csv(client.get(f"/audit.csv?action=command&target_id={second.id}"))
    by_actor = read_csv(client.get(f"/audit.csv?actor={admin.username}&action=user.login"))
    future = read_csv(client.get("/audit.csv?since=2999-01-01"))
    page = client.get(f"/audit?action=command&target_id={second.id}").get_data(as_text=True)

    assert [(r["action"], r["summary"]) for r in by_target] == [
        ("command.issue", "Unlock the screen: pc-second")
    ]
    assert [r["action"] for r in by_actor] == ["user.login"]
    assert future == []
    assert "Unlock the screen: pc-second" in page and "pc-first" not in page
    assert f"/audit.csv?action=command&amp;target_id={second.id}" in page


def test_bad_date_filter_is_explained(client, db):
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get("/audit?since=yesterday")
    export = client.get("/audit.csv?since=yesterday")

    assert page.status_code == 400 and "Not a valid date value" in page.get_data(as_text=True)
    assert export.status_code == 400


def test_audit_csv_is_refused_without_view_audit(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    assert client.get("/audit.csv").status_code == 403
    assert client.get("/audit").status_code == 403


def test_technician_export_keeps_to_their_scope(client, db):
    organisation = make_organisation(db)
    mine = make_device(db, make_site(db, organisation), name="pc-mine")
    theirs = make_device(db, name="pc-theirs")
    sign_in(client, make_user(db, Role.ADMIN))
    send(client, f"/devices/{theirs.id}", "lock_screen")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, make_user(db, Role.TECHNICIAN, organisations=[organisation]))
    send(client, f"/devices/{mine.id}", "lock_screen")

    rows = read_csv(client.get("/audit.csv?action=command"))

    assert [r["summary"] for r in rows] == ["Lock the screen: pc-mine"]

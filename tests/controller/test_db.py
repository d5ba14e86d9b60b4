"""The database (controller/db.py): with SQLite, a request that writes waits for another
process's write instead of failing."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import msgspec

from controller.db import Database
from controller.fleet import enrolment
from tests.factories import enrol_request, make_site


def test_a_write_waits_for_another_process_holding_the_write_lock(own_app, sqlite_url):
    database = Database(sqlite_url)
    with database.session() as session:
        token = enrolment.create_token(session, "cli", make_site(session), ttl=timedelta(hours=1))
    database.dispose()
    holding = threading.Event()

    def another_process_writes_for_a_second() -> None:
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO organisations (name, created_at) VALUES ('x', '2026-12-02')")
        holding.set()
        threading.Event().wait(1.0)
        other.execute("COMMIT")
        other.close()

    writer = threading.Thread(target=another_process_writes_for_a_second)
    writer.start()
    assert holding.wait(5)
    body = msgspec.json.encode(enrol_request(token.token))
    answer = own_app.test_client().post("/api/v1/enrol", data=body, content_type="application/json")
    writer.join()

    # Begun deferred, the enrolment read first, then failed at once ("database is locked")
    # when it came to write after the other process's commit: a 500 for a waiting mediator.
    assert answer.status_code == 201, answer.get_data(as_text=True)

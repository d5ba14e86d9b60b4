"""The database (controller/db.py): with SQLite, a request that writes waits for another
writer instead of failing, and under gevent waits without stopping the process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
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


COOPERATIVE_WAIT = """
from gevent import monkey
monkey.patch_all()
import gevent, sys
from controller.db import Database

url = sys.argv[1]
first, second = Database(url), Database(url)
ticks = []
done = []

def ticker():
    while not done:
        ticks.append(1)
        gevent.sleep(0.01)

def holder():
    with first.session() as session:  # takes the write lock at BEGIN
        session.connection().exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x)")
        gevent.sleep(0.5)  # waits on something, lock held (a password check, a socket)

def waiter():
    gevent.sleep(0.05)
    with second.session() as session:
        session.connection().exec_driver_sql("INSERT INTO t VALUES (1)")
    done.append(1)

gevent.joinall([gevent.spawn(ticker), gevent.spawn(holder), gevent.spawn(waiter)], timeout=20)
print("ticks while waiting:", len(ticks), "waiter done:", bool(done))
"""


def test_under_gevent_a_writer_waits_for_the_lock_without_stopping_the_process(tmp_path):
    # SQLite's own busy handler sleeps in C: under gevent it stopped every greenlet, the lock's
    # holder among them, until its timeout. The wait now lets the others run.
    url = f"sqlite:///{tmp_path / 'wait.sqlite3'}"
    answer = subprocess.run(
        [sys.executable, "-c", COOPERATIVE_WAIT, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    ticks = int(answer.stdout.split("ticks while waiting:")[1].split()[0])
    assert "waiter done: True" in answer.stdout
    assert ticks >= 20  # the ticker ran all along the half-second the lock was held

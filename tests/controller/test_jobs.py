"""Periodic jobs (controller/jobs.py): each domain registers its own; each runs on its period with
its own error handling, so one failing job never stops the others."""

from __future__ import annotations

import logging
import threading

import pytest
from flask import Flask

from controller.jobs import add_job, jobs_of, run_due, run_jobs


def test_each_domain_registers_its_jobs_on_the_app(app):
    names = {job.name for job in jobs_of(app)}
    assert {
        "schedule",
        "expire-commands",
        "push-queued-commands",
        "mark-offline",
        "prune-events",
    } <= names


def test_a_failing_job_is_logged_and_the_others_still_run(caplog):
    app = Flask(__name__)
    ran = []

    def broken(_app):
        raise RuntimeError("database away")

    add_job(app, "broken", 1.0, broken)
    add_job(app, "healthy", 1.0, lambda _app: ran.append("healthy"))
    run_due(app, now=100.0)  # the first run comes one period after start
    with caplog.at_level(logging.ERROR, logger="controller.jobs"):
        failed = run_due(app, now=101.0)

    assert failed == ["broken"] and ran == ["healthy"]
    assert "periodic job broken failed" in caplog.text


def test_jobs_run_on_their_own_period():
    app = Flask(__name__)
    runs = []
    add_job(app, "often", 1.0, lambda _app: runs.append("often"))
    add_job(app, "rarely", 10.0, lambda _app: runs.append("rarely"), first_after_s=0.0)
    for now in (0.0, 1.0, 2.0, 3.0):
        run_due(app, now=now)
    assert runs.count("often") == 3 and runs.count("rarely") == 1


def test_a_job_name_is_registered_once_and_a_period_is_positive():
    app = Flask(__name__)
    add_job(app, "twice", 1.0, lambda _app: None)
    with pytest.raises(ValueError, match="already registered"):
        add_job(app, "twice", 1.0, lambda _app: None)
    with pytest.raises(ValueError, match="positive"):
        add_job(app, "never", 0, lambda _app: None)


def test_the_runner_stops_when_asked():
    app = Flask(__name__)
    ran = threading.Event()
    add_job(app, "quick", 0.01, lambda _app: ran.set())
    stop = threading.Event()
    runner = threading.Thread(target=run_jobs, args=(app, stop))
    runner.start()
    assert ran.wait(5)
    stop.set()
    runner.join(5)
    assert not runner.is_alive()

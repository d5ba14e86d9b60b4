"""Periodic jobs: each domain registers its own (marking silent devices offline, expiring
commands, issuing the day's schedule …), and every controller process runs them.

Each job runs on its own period, with its own error handling and log line: one failing job
(a database hiccup, a bad opening-hours expression) never delays or stops the others. Jobs must
be safe to run in several processes at once (each domain's job says how it is).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

log = logging.getLogger(__name__)
JOBS = "borne.jobs"


@dataclass
class PeriodicJob:
    """``run(app)`` every ``every_s`` seconds, the first time ``first_after_s`` after start."""

    name: str
    every_s: float
    run: Callable[[Flask], object]
    first_after_s: float
    next_at: float | None = field(default=None, compare=False)  # None: not started


def add_job(
    app: Flask,
    name: str,
    every_s: float,
    run: Callable[[Flask], object],
    *,
    first_after_s: float | None = None,
) -> None:
    """Register a periodic job on ``app``; names are unique (they are the log's words).

    ``first_after_s`` defaults to one period."""
    jobs: dict[str, PeriodicJob] = app.extensions.setdefault(JOBS, {})
    if name in jobs:
        raise ValueError(f"a periodic job named {name!r} is already registered")
    if every_s <= 0:
        raise ValueError(f"periodic job {name!r}: every_s must be positive")
    jobs[name] = PeriodicJob(
        name, every_s, run, every_s if first_after_s is None else first_after_s
    )


def jobs_of(app: Flask) -> list[PeriodicJob]:
    return list(app.extensions.get(JOBS, {}).values())


def run_due(app: Flask, now: float | None = None) -> list[str]:
    """Run the jobs that are due; return the names of those that failed."""
    now = time.monotonic() if now is None else now
    failed = []
    for job in jobs_of(app):
        if job.next_at is None:
            job.next_at = now + job.first_after_s
        if now < job.next_at:
            continue
        job.next_at = now + job.every_s
        try:
            job.run(app)
        except Exception:
            log.exception("periodic job %s failed; it runs again in %.0f s", job.name, job.every_s)
            failed.append(job.name)
    return failed


def run_jobs(app: Flask, stop: threading.Event) -> None:
    """Run ``app``'s periodic jobs until ``stop`` is set, sleeping until the next one is due."""
    while True:
        run_due(app)
        now = time.monotonic()
        next_at = min((job.next_at or now for job in jobs_of(app)), default=now + 1.0)
        if stop.wait(max(next_at - now, 0.01)):
            return

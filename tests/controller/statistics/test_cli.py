"""``borne controller statistics rebuild``: the rollups recomputed from the raw rows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from agent.protocol import SessionEnd
from controller.public_pcs.models import PcSession
from controller.statistics.models import SiteDay
from tests.factories import make_device


def test_rebuild_counts_the_sessions_already_stored(run, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    with Session(engine) as db:
        pc = make_device(db, enrolled_at=datetime(2026, 10, 1, tzinfo=UTC))
        for day in (3, 4, 4):
            started = datetime(2026, 11, day, 10, tzinfo=UTC)
            db.add(
                PcSession(
                    device_id=pc.id,
                    site_id=pc.site_id,
                    started_at=started,
                    ended_at=started.replace(minute=30),
                    duration_s=1800,
                    ended_by=SessionEnd.LOGOUT,
                )
            )
        db.commit()

    everything = run("statistics", "rebuild")
    since = run("statistics", "rebuild", "--since", "2026-11-04")
    refused = run("statistics", "rebuild", "--since", "4 November")

    assert everything.exit_code == 0, everything.output
    assert "3 sessions" in everything.output
    assert "2 sessions" in since.output and "2026-11-04" in since.output
    assert refused.exit_code == 2 and "'--since'" in refused.output
    with Session(engine) as db:
        days = db.execute(
            select(SiteDay.day, SiteDay.pc_sessions)
            .where(SiteDay.pc_sessions > 0)
            .order_by(SiteDay.day)
        ).all()
    engine.dispose()
    assert [(d.isoformat(), n) for d, n in days] == [("2026-11-03", 1), ("2026-11-04", 2)]

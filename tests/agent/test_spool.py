from __future__ import annotations

import logging
from pathlib import Path

import pytest
from agent_testkit import spool_heartbeats, spool_inventory

from agent.protocol import Heartbeat, InventoryReport
from agent.spool import Spool


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "spool.sqlite3"


def test_events_come_out_oldest_first_with_consecutive_seqs(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 3)
    spool_inventory(spool)
    batch = spool.pending_batch()
    assert batch is not None
    assert [e.seq for e in batch.events] == [1, 2, 3, 4]
    assert isinstance(batch.events[3], InventoryReport)
    spool.close()


def test_batches_hold_at_most_max_batch_events(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 600)
    batch = spool.pending_batch()
    assert batch is not None and len(batch.events) == 500
    spool.close()


def test_ack_deletes_events_up_to_the_acked_seq_only(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 5)
    assert spool.ack(3) == 3
    batch = spool.pending_batch()
    assert batch is not None and [e.seq for e in batch.events] == [4, 5]
    assert spool.ack(5) == 2
    assert spool.pending_batch() is None
    spool.close()


def test_spool_replays_in_order_after_restart(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 4)
    spool.ack(1)
    spool.close()

    reopened = Spool(path)
    batch = reopened.pending_batch()
    assert batch is not None and [e.seq for e in batch.events] == [2, 3, 4]
    assert len(reopened) == 3
    reopened.close()


def test_seq_keeps_increasing_across_restarts_after_the_spool_empties(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 3)
    spool.ack(3)
    spool.close()

    reopened = Spool(path)
    assert reopened.last_seq == 3
    assert spool_heartbeats(reopened, 1) == [4]
    reopened.close()


def test_full_spool_drops_the_oldest_heartbeats_first_and_says_so(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(path, max_events=100)
    inventory_seq = spool_inventory(spool)
    with caplog.at_level(logging.WARNING):
        spool_heartbeats(spool, 150)
    batch = spool.pending_batch()
    assert batch is not None
    seqs = [e.seq for e in batch.events]
    assert len(spool) == 100 == len(seqs)
    assert seqs[0] == inventory_seq  # the inventory survives
    assert seqs[1:] == list(range(53, 152))  # the newest heartbeats survive
    assert "spool full" in caplog.text


def test_discard_forgets_a_rejected_batch(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 3)
    batch = spool.pending_batch()
    assert batch is not None
    assert spool.discard(batch) == 3
    assert len(spool) == 0 and spool.pending_batch() is None
    spool.close()


def test_appended_events_carry_the_spools_seq(path: Path) -> None:
    spool = Spool(path)
    spool_heartbeats(spool, 2)
    event = spool.append(lambda seq: Heartbeat(seq=seq, at=_at(), interval_s=10, metrics=_m()))
    assert event.seq == 3
    with pytest.raises(ValueError, match="expected 4"):
        spool.append(lambda seq: Heartbeat(seq=99, at=_at(), interval_s=10, metrics=_m()))
    assert spool.last_seq == 3  # the failed append left no trace
    spool.close()


def test_executed_command_ids_persist_across_restarts(path: Path) -> None:
    spool = Spool(path)
    assert not spool.was_executed("c0ffee00-0000-4000-8000-000000000001")
    spool.remember_executed("c0ffee00-0000-4000-8000-000000000001")
    spool.remember_executed("c0ffee00-0000-4000-8000-000000000001")  # twice is harmless
    spool.close()

    reopened = Spool(path)
    assert reopened.was_executed("c0ffee00-0000-4000-8000-000000000001")
    assert not reopened.was_executed("c0ffee00-0000-4000-8000-000000000002")
    reopened.close()


def test_spool_uses_write_ahead_logging(path: Path) -> None:
    import sqlite3

    Spool(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def _at():
    from agent_testkit import AT

    return AT


def _m():
    from agent_testkit import make_metrics

    return make_metrics()


def test_a_lost_spool_numbers_its_events_after_what_the_controller_holds(path: Path) -> None:
    spool = Spool(path)  # a new spool on a device the controller knew up to seq 5000
    spool_heartbeats(spool, 2)
    spool_inventory(spool)

    assert spool.continue_after(5000) == 5000
    batch = spool.pending_batch()
    assert batch is not None and [e.seq for e in batch.events] == [5001, 5002, 5003]
    assert isinstance(batch.events[2], InventoryReport)  # order and content kept
    spool_heartbeats(spool, 1)
    assert spool.pending_batch().events[-1].seq == 5004  # and the counter goes on from there
    spool.close()

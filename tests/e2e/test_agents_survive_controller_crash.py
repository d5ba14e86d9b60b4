"""A controller killed with SIGKILL loses nothing its agents sent, and stores nothing twice.

Real processes throughout: one ``borne controller run`` and three ``borne agent run`` on loopback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.controller_process import BORNE, DEMO_PLACES, ControllerProcess, wait_until

pytestmark = pytest.mark.e2e
AGENTS = 3


def read_rows(db_path: Path, sql: str) -> list[tuple]:
    [rows] = read_together(db_path, sql)
    return rows


def read_together(db_path: Path, *sqls: str) -> list[list[tuple]]:
    """The rows of each query, all from one snapshot of the database: the agents keep sending
    heartbeats, so two separate reads may see different moments."""
    connection = sqlite3.connect(
        f"file:{db_path}?mode=ro", uri=True, timeout=30, isolation_level=None
    )
    try:
        connection.execute("BEGIN")  # one read transaction: one snapshot (WAL)
        return [connection.execute(sql).fetchall() for sql in sqls]
    finally:
        connection.close()


class Agent:
    def __init__(self, state_dir: Path, controller: ControllerProcess) -> None:
        self.state_dir = state_dir
        self.env = {
            **os.environ,
            "BORNE_AGENT_ACTIONS": "simulated",
            "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "1",
            "BORNE_AGENT_BACKOFF_MIN_S": "0.2",
            "BORNE_AGENT_BACKOFF_MAX_S": "1",
        }
        self.controller = controller
        self.process: subprocess.Popen[bytes] | None = None

    def enrol(self, token: str) -> None:
        subprocess.run(
            [
                BORNE,
                "agent",
                "enrol",
                "--controller",
                self.controller.url,
                "--token",
                token,
                "--kind",
                "pc",
                "--state-dir",
                str(self.state_dir),
            ],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        log = (self.state_dir / "agent.log").open("ab")
        self.process = subprocess.Popen(
            [BORNE, "agent", "run", "--state-dir", str(self.state_dir)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    @property
    def device_id(self) -> str:
        return json.loads((self.state_dir / "credentials.json").read_text())["device_id"]

    def spooled_seqs(self) -> list[int]:
        return [
            seq
            for (seq,) in read_rows(
                self.state_dir / "spool.sqlite3", "SELECT seq FROM events ORDER BY seq"
            )
        ]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[ControllerProcess, list[Agent]]]:
    # Keep every heartbeat as a row, so that the test can count them one by one.
    controller = ControllerProcess(
        tmp_path / "controller", extra_env={"BORNE_HEARTBEAT_HISTORY_S": "0"}
    )
    controller.data_dir.mkdir(parents=True)
    controller.migrate()
    controller.cli("places", "import", str(DEMO_PLACES))
    controller.start()
    agents = [Agent(tmp_path / f"agent-{n}", controller) for n in range(AGENTS)]
    try:
        for agent in agents:
            agent.enrol(controller.token("grenoble-bib-centre-ville", "pc"))
            agent.start()
        yield controller, agents
    finally:
        for agent in agents:
            agent.stop()
        controller.stop()


def test_spooled_events_arrive_exactly_once_after_a_sigkill(fleet):
    controller, agents = fleet
    db_path = controller.data_dir / "borne.sqlite3"

    def online() -> list[tuple]:
        return read_rows(db_path, "SELECT id FROM devices WHERE status = 'online'")

    wait_until(lambda: len(online()) == AGENTS, timeout=30, message="three agents online")

    controller.kill()
    # While the controller is dead each agent keeps heartbeating into its spool.
    wait_until(
        lambda: all(len(a.spooled_seqs()) >= 3 for a in agents),
        timeout=30,
        message="every agent spooling at least three heartbeats",
    )
    spooled = {a: a.spooled_seqs() for a in agents}

    controller.start()
    wait_until(
        lambda: all(len(a.spooled_seqs()) <= 1 for a in agents),
        timeout=30,
        message="the spools replayed",
    )

    stored, devices = read_together(
        db_path,
        "SELECT device_id, seq FROM device_events ORDER BY device_id, seq",
        "SELECT id, last_seq FROM devices",
    )
    by_device: dict[str, list[int]] = {}
    for device_id, seq in stored:
        by_device.setdefault(device_id, []).append(seq)
    assert len(by_device) == AGENTS
    for seqs in by_device.values():
        assert len(seqs) == len(set(seqs)), "an event was stored twice"
        assert seqs == list(range(1, seqs[-1] + 1)), "an acknowledged event is missing"
    last_seqs = dict(devices)
    for agent, seqs in spooled.items():
        assert set(seqs) <= set(by_device[agent.device_id]), f"{agent.device_id} lost events"
        assert last_seqs[agent.device_id] == by_device[agent.device_id][-1]
    wait_until(lambda: len(online()) == AGENTS, timeout=10, message="agents back online")

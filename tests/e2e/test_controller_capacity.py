"""A controller process takes the most open files it may, and spends one per agent
(controller/websocket_files.py): past its limit, the next agent's WebSocket upgrade gets an HTTP
500, which bench/heartbeats met near 10,000 agents when each cost two (a limit of 20,000)."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

from bench.fleet_simulator import SimulatedAgent, make_devices
from tests.e2e.controller_process import ControllerProcess

pytestmark = pytest.mark.e2e
AGENTS = 300
LOW_LIMIT = 256  # a shell's `ulimit -n` below the hard limit: too few files for AGENTS


@contextmanager
def soft_open_files_limit(soft: int) -> Iterator[None]:
    """Processes started in the block inherit ``soft`` as their open-files limit."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


async def connect_all_and_beat(
    controller: ControllerProcess, credentials: list[tuple[str, str]]
) -> tuple[list[dict], int]:
    """Every agent connected at once, then each one's first heartbeat: the acknowledgements, and
    the files the controller held meanwhile."""
    agents = [SimulatedAgent(device_id, secret) for device_id, secret in credentials]
    try:
        tries = [agent.connect(controller.url) for agent in agents]
        refused = [repr(e) for e in await asyncio.gather(*tries, return_exceptions=True) if e]
        assert not refused, f"{len(refused)} agents refused, the first: {refused[0]}"
        acks = await asyncio.gather(*(agent.send_heartbeat() for agent in agents))
        assert controller.process is not None
        return acks, psutil.Process(controller.process.pid).num_fds()
    finally:
        await asyncio.gather(*(agent.close() for agent in agents))


def test_a_controller_started_under_a_low_limit_still_takes_every_agent(tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < 4 * AGENTS:
        pytest.skip(f"the hard open-files limit ({hard}) is too low for this test")
    controller = ControllerProcess(tmp_path / "controller")
    controller.data_dir.mkdir(parents=True)
    controller.migrate()
    credentials = make_devices(f"sqlite:///{controller.data_dir / 'borne.sqlite3'}", AGENTS)
    with soft_open_files_limit(LOW_LIMIT):
        controller.start()
    try:
        acks, files = asyncio.run(connect_all_and_beat(controller, credentials))
    finally:
        controller.stop()
    assert [ack.get("acked_seq") for ack in acks] == [1] * AGENTS
    assert files < AGENTS + 100  # one per agent, and a few of its own
    assert "Too many open files" not in controller.log_path.read_text()
    assert f"open files limit {hard}:" in controller.log_path.read_text()

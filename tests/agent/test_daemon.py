"""The agent's loop (agent/daemon.py): what its heartbeats say of the agent itself."""

from __future__ import annotations

from pathlib import Path

import msgspec
from agent_testkit import make_credentials

from agent.daemon import build_agent
from agent.protocol import AGENT_FEATURES, DeviceKind, EventBatch, Heartbeat
from agent.settings import AgentSettings


def test_every_heartbeat_lists_what_the_agent_reads(state_dir: Path) -> None:
    agent = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated"),
        make_credentials("http://127.0.0.1:1", kind=DeviceKind.KIOSK),
    )
    try:
        spooled = agent.spool_heartbeat()
    finally:
        agent.link.close()
        agent.spool.close()

    # As the controller decodes it: the features survive the wire.
    sent = msgspec.json.encode(EventBatch(events=[spooled]))
    [received] = msgspec.json.decode(sent, type=EventBatch).events
    assert isinstance(received, Heartbeat)
    assert received.features == [str(feature) for feature in AGENT_FEATURES]

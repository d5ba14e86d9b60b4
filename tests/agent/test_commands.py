"""Commands end to end inside the agent: a real agent (build_agent, its loop on a thread) against
the real python-socketio and http.server controllers of conftest, with simulated system actions."""

from __future__ import annotations

import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import (
    DEVICE_ID,
    SECRET,
    HttpController,
    SocketIOController,
    make_command,
    make_credentials,
    wait_for,
)

from agent.actions import Call, SimulatedDevice
from agent.daemon import Agent, build_agent
from agent.protocol import DeviceKind, SessionEnd, WipeReport, from_builtins
from agent.settings import AgentSettings, remote_settings_path
from agent.transport import HttpChannel
from captive_portal.managed import MANAGED_FILE, ManagedSettings, read_managed_settings


@contextmanager
def running_agent(
    url: str, state_dir: Path, kind: DeviceKind = DeviceKind.PC, **settings: Any
) -> Iterator[Agent]:
    """An agent with simulated actions and a slow heartbeat, running until the block ends."""
    values: dict[str, Any] = {
        "state_dir": state_dir,
        "actions": "simulated",
        "heartbeat_interval_s": 3600,
        "http_timeout_s": 5,
    }
    values.update(settings)
    agent = build_agent(AgentSettings(**values), make_credentials(url, kind=kind))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(10)
        agent.link.close()
        agent.spool.close()


def calls(agent: Agent) -> list[Call]:
    assert agent.commands is not None
    device = agent.commands.actions.simulated
    assert isinstance(device, SimulatedDevice)
    return device.calls


@contextmanager
def connected_agent(
    controller: SocketIOController, state_dir: Path, **kwargs: Any
) -> Iterator[Agent]:
    with running_agent(controller.url, state_dir, **kwargs) as agent:
        wait_for(controller.connected, what="the agent to connect")
        yield agent


def result_of(controller: SocketIOController | HttpController, command: dict[str, Any]) -> Any:
    return wait_for(
        lambda: controller.received.results().get(command["id"]),
        what=f"the result of {command['name']}",
    )


def run_marker(controller: SocketIOController, agent: Agent) -> None:
    """Push one more command and wait for its result: commands run in order, so everything
    pushed before it has been handled (run or ignored) by then."""
    marker = make_command("unlock_screen")
    controller.push(marker)
    result_of(controller, marker)


def test_pushed_command_is_claimed_then_run_once_and_its_result_comes_back_as_an_event(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    command = make_command("show_message", args={"text": "La bibliothèque ferme dans 10 min"})
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        result = result_of(socketio_controller, command)
        assert calls(agent) == [
            Call("show_message", {"text": "La bibliothèque ferme dans 10 min", "seconds": 0})
        ]
    assert socketio_controller.received.claims == [command["id"]]
    assert result["ok"] is True
    assert result["output"] == "simulated: session 2 (guest): shown"
    assert result.get("duration_ms", 0) >= 0  # omitted when 0 (omit_defaults)
    assert socketio_controller.received.basic_auth == []  # all of it over Socket.IO


def test_same_command_pushed_twice_and_again_after_a_restart_runs_once(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    # A controller that grants every claim: only the agent's own memory stops a second run.
    socketio_controller.received.grant_every_claim = True
    command = make_command("reboot")
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        socketio_controller.push(command)
        result_of(socketio_controller, command)
        run_marker(socketio_controller, agent)
        assert [c.action for c in calls(agent)] == ["reboot", "unlock_screen"]
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        run_marker(socketio_controller, agent)
        assert [c.action for c in calls(agent)] == ["unlock_screen"]
    assert socketio_controller.received.claims.count(command["id"]) == 1
    assert [r["command_id"] for r in socketio_controller.received.results().values()].count(
        command["id"]
    ) == 1


def test_refused_claim_runs_nothing_and_reports_nothing(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    command = make_command("shutdown")
    socketio_controller.received.refusals[command["id"]] = {
        "reason": "expired",
        "message": "expired at 09:35",
    }
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        socketio_controller.push(command)  # pushed again: not even claimed a second time
        run_marker(socketio_controller, agent)
        assert "shutdown" not in [c.action for c in calls(agent)]
    assert socketio_controller.received.claims.count(command["id"]) == 1
    assert command["id"] not in socketio_controller.received.results()


def test_the_controller_not_the_devices_clock_says_whether_a_command_expired(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    # A PC whose clock runs six minutes fast used to drop a five-minute "Reset now" unclaimed.
    past_by_this_clock = datetime.now(UTC) - timedelta(minutes=1)
    command = make_command("lock_screen", expires_at=past_by_this_clock.isoformat())
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        run_marker(socketio_controller, agent)
        assert "lock_screen" in [c.action for c in calls(agent)]
    assert socketio_controller.received.claims.count(command["id"]) == 1


def test_invalid_arguments_give_a_failed_result_saying_why(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    bad_args = {
        "missing": {},
        "empty": {"text": ""},
        "unknown field": {"text": "hi", "colour": "red"},
        "text for a number": {"text": "hi", "seconds": "10"},
    }
    commands = {why: make_command("show_message", args=args) for why, args in bad_args.items()}
    with connected_agent(socketio_controller, state_dir) as agent:
        for command in commands.values():
            socketio_controller.push(command)
        results = {why: result_of(socketio_controller, c) for why, c in commands.items()}
        assert calls(agent) == []
    for why, result in results.items():
        assert result["ok"] is False, why
        assert result["output"].startswith("invalid arguments for show_message:"), why
    assert "colour" in results["unknown field"]["output"]


def test_command_the_role_does_not_handle_fails_naming_the_device_kind(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    command = make_command("reset_session")
    with connected_agent(socketio_controller, state_dir, kind=DeviceKind.KIOSK) as agent:
        socketio_controller.push(command)
        result = result_of(socketio_controller, command)
        assert calls(agent) == []
    assert result["ok"] is False
    assert result["output"] == "reset_session is not supported on a kiosk"


def test_http_fallback_polls_claims_and_runs_a_command(
    http_controller: HttpController, state_dir: Path
) -> None:
    command = make_command("collect_logs", args={"since_hours": 2})
    http_controller.received.pending_commands.append(command)
    with running_agent(http_controller.url, state_dir) as agent:
        result = result_of(http_controller, command)
        assert calls(agent) == [Call("collect_logs", {"since_hours": 2})]
    assert http_controller.received.claims == [command["id"]]
    assert result["ok"] is True
    assert result["output"].startswith("simulated journal, last 2 h")


@pytest.mark.parametrize(
    ("reason", "status"), [("expired", 410), ("claimed", 409), ("unknown", 404)]
)
def test_http_claim_refusal_is_an_answer_naming_the_reason(
    http_controller: HttpController, reason: str, status: int
) -> None:
    command_id = "c0ffee00-0000-4000-8000-000000000001"
    http_controller.received.refusals[command_id] = {"reason": reason, "message": f"{status}"}
    answer = HttpChannel(http_controller.url, DEVICE_ID, SECRET, timeout_s=5).claim(command_id)
    assert not answer.ok
    assert (answer.reason, answer.message) == (reason, str(status))


def test_wake_command_sends_the_magic_packet_to_the_configured_broadcast_address(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        command = make_command(
            "wake", args={"target_device_id": "dev-0002", "macs": ["00:1a:2b:3c:4d:5e"]}
        )
        # Real (system) actions, but only the wake command runs, and only towards loopback.
        with connected_agent(
            socketio_controller,
            state_dir,
            actions="system",
            wol_broadcast="127.0.0.1",
            wol_port=port,
        ):
            socketio_controller.push(command)
            packet, _ = listener.recvfrom(1024)
            result = result_of(socketio_controller, command)
    assert packet == b"\xff" * 6 + bytes.fromhex("001a2b3c4d5e") * 16
    assert len(packet) == 102
    assert result["ok"] is True
    assert "00:1a:2b:3c:4d:5e" in result["output"]


def test_update_config_changes_the_heartbeat_interval_live_and_it_survives_a_restart(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    received = socketio_controller.received
    command = make_command(
        "update_config", args={"heartbeat_interval_s": 1, "device_name": "PC accueil 2"}
    )
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        result = result_of(socketio_controller, command)

        def heartbeats_at_one_second() -> list[dict[str, Any]]:
            return [e for e in received.events if e["type"] == "heartbeat" and e["interval_s"] == 1]

        wait_for(lambda: len(heartbeats_at_one_second()) >= 2, what="two 1 s heartbeats")
        assert agent.heartbeat_interval_s == 1
        wait_for(
            lambda: any(
                e["type"] == "inventory" and e["inventory"]["hostname"] == "PC accueil 2"
                for e in received.events
            ),
            what="an inventory under the new name",
        )
    assert result["ok"] is True
    assert "heartbeat_interval_s = 1" in result["output"]
    path = remote_settings_path(state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # Restarted with the same local settings (heartbeat every hour): the remote value wins.
    restarted = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated", heartbeat_interval_s=3600),
        make_credentials(socketio_controller.url),
    )
    try:
        assert restarted.heartbeat_interval_s == 1
        assert restarted.inventory.collect().hostname == "PC accueil 2"
    finally:
        restarted.link.close()
        restarted.spool.close()


def test_update_config_hands_a_hotspots_portal_settings_over_without_echoing_the_secret(
    socketio_controller: SocketIOController, state_dir: Path, tmp_path: Path
) -> None:
    portal_dir = tmp_path / "portal-state"
    secret = "the hotspot's code secret, 43 characters long"
    command = make_command(
        "update_config",
        args={
            "portal_mode": "code",
            "portal_opening_hours": "Mo-Sa 09:00-19:00",
            "portal_timezone": "Europe/Paris",
            "portal_session_s": 7200,
            "portal_code_secret": secret,
        },
    )
    with connected_agent(
        socketio_controller, state_dir, kind=DeviceKind.HOTSPOT, portal_state_dir=portal_dir
    ):
        socketio_controller.push(command)
        result = result_of(socketio_controller, command)

    assert result["ok"] is True
    assert "portal_mode = 'code'" in result["output"]
    assert "portal_code_secret changed" in result["output"] and secret not in result["output"]
    assert read_managed_settings(portal_dir) == ManagedSettings(
        mode="code",
        opening_hours="Mo-Sa 09:00-19:00",
        timezone="Europe/Paris",
        session_s=7200,
        code_secret=secret,
    )

    # The portal's state directory emptied (a new disk): the next start writes the file again.
    (portal_dir / MANAGED_FILE).unlink()
    restarted = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated", portal_state_dir=portal_dir),
        make_credentials(socketio_controller.url, kind=DeviceKind.HOTSPOT),
    )
    restarted.link.close()
    restarted.spool.close()
    managed = read_managed_settings(portal_dir)
    assert managed is not None and managed.mode == "code" and managed.code_secret == secret


def test_a_kiosk_that_is_also_the_hotspot_runs_the_commands_of_both(
    socketio_controller: SocketIOController, state_dir: Path, tmp_path: Path
) -> None:
    lock = make_command("lock_screen")
    portal = make_command("update_config", args={"portal_mode": "closed"})
    reset = make_command("reset_session")
    with connected_agent(
        socketio_controller,
        state_dir,
        kind=DeviceKind.KIOSK,
        roles=("kiosk", "hotspot"),
        portal_state_dir=tmp_path / "portal",
    ) as agent:
        for command in (lock, portal, reset):
            socketio_controller.push(command)
        results = [result_of(socketio_controller, c) for c in (lock, portal, reset)]
        assert calls(agent) == [Call("lock_screen")]

    assert [r["ok"] for r in results] == [True, True, False]
    assert results[1]["output"] == "applied: portal_mode = 'closed'"
    assert results[2]["output"] == "reset_session is not supported on a kiosk,hotspot"
    managed = read_managed_settings(tmp_path / "portal")
    assert managed is not None and managed.mode == "closed"


def test_a_pc_ignores_portal_settings(
    socketio_controller: SocketIOController, state_dir: Path, tmp_path: Path
) -> None:
    command = make_command("update_config", args={"portal_mode": "closed"})
    with connected_agent(socketio_controller, state_dir, portal_state_dir=tmp_path / "portal"):
        socketio_controller.push(command)
        result = result_of(socketio_controller, command)

    assert (result["ok"], result["output"]) == (True, "nothing to change")
    assert not (tmp_path / "portal").exists()


def test_reset_of_a_pc_answers_ready_and_the_wipe_report_follows(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    command = make_command("reset_session")
    with connected_agent(socketio_controller, state_dir) as agent:
        socketio_controller.push(command)
        result = result_of(socketio_controller, command)
        report = wait_for(
            lambda: next(
                (e for e in socketio_controller.received.events if e["type"] == "wipe_report"),
                None,
            ),
            what="the wipe report",
        )
        assert agent.commands is not None
    assert result["ok"] is True and "ready in 140 ms" in result["output"]
    wipe = from_builtins(report, WipeReport)
    assert isinstance(wipe, WipeReport)
    assert wipe.ended_by is SessionEnd.COMMAND and wipe.removed_files == 3120

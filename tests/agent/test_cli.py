"""``borne agent enrol`` and ``borne agent run`` as a resident's IT team runs them."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from agent_testkit import SECRET, HttpController, SocketIOController, make_credentials, wait_for
from click.testing import CliRunner

from agent.cli import agent
from agent.credentials import load_credentials, save_credentials

BORNE = str(Path(sys.executable).parent / "borne")  # the installed console script


def _enrol(controller: HttpController, state_dir: Path, *extra: str):
    return CliRunner().invoke(
        agent,
        [
            *("enrol", "--controller", controller.url, "--token", "enr-7f3a9c2e41"),
            *("--kind", "kiosk", "--state-dir", str(state_dir), *extra),
        ],
        env={},
    )


def test_enrol_stores_the_credentials_the_controller_gave(
    http_controller: HttpController, state_dir: Path
) -> None:
    result = _enrol(http_controller, state_dir)
    assert result.exit_code == 0, result.output
    assert "enrolled as device dev-0001" in result.output
    credentials = load_credentials(state_dir)
    assert credentials.device_secret == SECRET
    assert credentials.controller_url == http_controller.url
    assert credentials.heartbeat_interval_s == 15
    assert stat.S_IMODE((state_dir / "credentials.json").stat().st_mode) == 0o600
    request = http_controller.enrol_requests[0]
    assert request["token"] == "enr-7f3a9c2e41" and request["kind"] == "kiosk"
    assert request["inventory"]["hostname"]


def test_refused_enrolment_prints_the_message_and_writes_nothing(
    http_controller: HttpController, state_dir: Path
) -> None:
    http_controller.enrol_answer = (
        403,
        {"error": "token_expired", "message": "This enrolment token expired on 2025-02-28."},
    )
    result = _enrol(http_controller, state_dir)
    assert result.exit_code != 0
    assert "This enrolment token expired on 2025-02-28." in result.output
    assert not (state_dir / "credentials.json").exists()


def test_enrolling_again_needs_force(http_controller: HttpController, state_dir: Path) -> None:
    save_credentials(state_dir, make_credentials("http://127.0.0.1:1", device_id="old"))
    result = _enrol(http_controller, state_dir)
    assert result.exit_code != 0 and "--force" in result.output
    assert http_controller.enrol_requests == []  # the token is not spent
    assert load_credentials(state_dir).device_id == "old"

    assert _enrol(http_controller, state_dir, "--force").exit_code == 0
    assert load_credentials(state_dir).device_id == "dev-0001"


def test_run_sends_inventory_and_heartbeats_then_stops_cleanly_on_sigterm(
    socketio_controller: SocketIOController, state_dir: Path
) -> None:
    save_credentials(state_dir, make_credentials(socketio_controller.url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORNE_")}
    env["BORNE_AGENT_HEARTBEAT_INTERVAL_S"] = "1"
    process = subprocess.Popen(
        [BORNE, "agent", "run", "--state-dir", str(state_dir)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        received = socketio_controller.received
        wait_for(lambda: len(received.seqs) >= 3, timeout=15, what="three events")
        with received.lock:
            events = [e for b in received.batches for e in b["events"]]
        assert [e["type"] for e in events[:2]] == ["inventory", "heartbeat"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        # A PC without its guest account yet: no session, and residents are not locked out.
        assert events[1]["state"] == {
            "role": "pc",
            "session": "none",
            "guest_login": "open",
            "language": "fr",
            "service": "in_service",
        }
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "connected to the controller over Socket.IO" in stderr
    assert "agent stopped" in stderr
    assert json.loads((state_dir / "credentials.json").read_text())["device_id"] == "dev-0001"


def test_plain_http_to_another_machine_is_refused_before_the_token_is_sent(
    state_dir: Path,
) -> None:
    result = CliRunner().invoke(
        agent,
        [
            *("enrol", "--controller", "http://192.0.2.10:8000", "--token", "enr-7f3a9c2e41"),
            *("--state-dir", str(state_dir)),
        ],
        env={},
    )
    assert result.exit_code != 0
    assert "secret would travel in clear" in result.output
    assert not (state_dir / "credentials.json").exists()


def test_run_refuses_credentials_naming_plain_http_to_another_machine(state_dir: Path) -> None:
    # Enrolled before the rule: the stored address is checked at start too.
    save_credentials(state_dir, make_credentials("http://192.0.2.10:8000"))
    result = CliRunner().invoke(agent, ["run", "--state-dir", str(state_dir)], env={})
    assert result.exit_code != 0
    assert "secret would travel in clear" in result.output

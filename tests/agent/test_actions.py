"""System actions: the commands a security reviewer reads, the magic packet, the simulated set."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agent.actions import (
    AptPackages,
    Call,
    GraphicalSession,
    JournalLogs,
    RecentLog,
    SystemPower,
    SystemScreen,
    UdpWakeOnLan,
    actions_for,
    magic_packet,
    run_tool,
    simulated_actions,
)


def test_magic_packet_sent_to_loopback_has_the_exact_bytes() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        outcome = UdpWakeOnLan("127.0.0.1", port).wake(["00:1a:2b:3c:4d:5e", "a0:b1:c2:d3:e4:f5"])
        packets = [listener.recvfrom(1024)[0] for _ in range(2)]
    assert outcome.ok
    assert packets == [
        bytes([0xFF] * 6 + [0x00, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E] * 16),
        bytes([0xFF] * 6 + [0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5] * 16),
    ]


def test_magic_packet_refuses_what_is_not_a_mac() -> None:
    with pytest.raises(ValueError, match="not a MAC"):
        magic_packet("00:1a:2b")


def test_message_is_data_for_notify_send_never_an_option_or_markup() -> None:
    session = GraphicalSession(id="4", user="guest", uid=1001, display=":0")
    argv = SystemScreen.notify_command(session, "--help <b>&", seconds=0)
    assert argv[:5] == ["runuser", "-u", "guest", "--", "env"]
    assert "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1001/bus" in argv
    assert "DISPLAY=:0" in argv
    assert argv[-3:] == ["--", "Message", "--help &lt;b&gt;&amp;"]
    assert "--urgency=critical" in argv and "--expire-time=0" in argv  # until dismissed
    timed = SystemScreen.notify_command(session, "hi", seconds=30)
    assert "--expire-time=30000" in timed


def test_power_actions_are_delayed_so_the_result_gets_out_first() -> None:
    assert SystemPower.REBOOT == ("systemd-run", "--on-active=5", "systemctl", "reboot")
    assert SystemPower.SHUTDOWN == ("systemd-run", "--on-active=5", "systemctl", "poweroff")


def test_upgrade_is_non_interactive_and_keeps_local_configuration() -> None:
    assert AptPackages.UPDATE == ("apt-get", "update")
    assert AptPackages.UPGRADE[:2] == ("env", "DEBIAN_FRONTEND=noninteractive")
    assert "-y" in AptPackages.UPGRADE and AptPackages.UPGRADE[-1] == "upgrade"
    assert "Dpkg::Options::=--force-confold" in AptPackages.UPGRADE


def test_logs_read_the_agent_unit_journal_since_n_hours() -> None:
    argv = JournalLogs.journal_command(6)
    assert argv[:6] == ["journalctl", "--since", "-6h", "-u", "borne-agent", "--no-pager"]


def test_run_tool_reports_exit_status_missing_tool_and_timeout(tmp_path: Path) -> None:
    assert run_tool(["sh", "-c", "echo done"]).output == "done\n"
    failed = run_tool(["sh", "-c", "echo oops; exit 3"])
    assert not failed.ok and "oops" in failed.output and "status 3" in failed.output
    missing = run_tool([str(tmp_path / "no-such-tool")])
    assert not missing.ok and "not installed" in missing.output
    slow = run_tool(["sleep", "5"], timeout_s=0.2)
    assert not slow.ok and "did not finish" in slow.output


def test_simulated_actions_record_what_they_were_asked_in_order() -> None:
    recent = RecentLog()
    recent.emit(_record("spool full"))
    actions = simulated_actions(recent)
    actions.screen.lock_all()
    actions.screen.show_message("Fermeture à 18 h", 60)
    actions.wake_on_lan.wake(["00:1a:2b:3c:4d:5e"])
    actions.packages.upgrade(reboot_if_needed=False)
    logs = actions.logs.collect(3)
    assert actions.simulated is not None
    assert actions.simulated.calls == [
        Call("lock_screen"),
        Call("show_message", {"text": "Fermeture à 18 h", "seconds": 60}),
        Call("wake", {"macs": ["00:1a:2b:3c:4d:5e"]}),
        Call("maintenance", {"reboot_if_needed": False}),
        Call("collect_logs", {"since_hours": 3}),
    ]
    assert "spool full" in logs.output  # the agent's own recent lines come along


def test_system_set_resets_nothing_until_the_wipe_exists() -> None:
    actions = actions_for("system")
    assert actions.simulated is None
    outcome = actions.session.reset()
    assert not outcome.ok and outcome.output == "reset is not available on this agent yet"


def _record(message: str):
    import logging

    return logging.LogRecord("agent.spool", logging.WARNING, __file__, 1, message, None, None)

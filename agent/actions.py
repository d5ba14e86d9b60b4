"""The system actions behind the controller's commands, one small interface per concern.

Each concern has a real implementation, whose exact commands are all in this file for a security
reviewer, and a simulated one that records what it was asked and answers plausibly (the demo and
the tests). The setting ``actions`` (``"system"`` or ``"simulated"``) picks one set; see
:func:`actions_for`.

Every action returns an :class:`Outcome` instead of raising: a failed ``apt-get`` is a result to
report to the person who asked, not an agent error. Commands run without a shell (argument lists)
and with a timeout, so a hung tool cannot hold the command worker forever.
"""

from __future__ import annotations

import collections
import logging
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# Reboot and poweroff are scheduled this many seconds later (a transient systemd timer), so the
# command's result is spooled and usually sent before the agent is stopped. If it is not, it is
# still in the spool and goes out after the restart; the command id is remembered before running,
# so the reboot itself never runs twice.
POWER_DELAY_S = 5
APT_UPDATE_TIMEOUT_S = 600
APT_UPGRADE_TIMEOUT_S = 3600
TOOL_TIMEOUT_S = 30
REBOOT_REQUIRED = Path("/var/run/reboot-required")
AGENT_UNIT = "borne-agent"
WOL_PORT = 9


@dataclass(frozen=True)
class Outcome:
    """How an action went: ``output`` is for the person who asked (the end is what matters)."""

    ok: bool
    output: str = ""


# -- interfaces ---------------------------------------------------------------------------------


class Screen(Protocol):
    def lock_all(self) -> Outcome: ...
    def unlock_all(self) -> Outcome: ...
    def show_message(self, text: str, seconds: int) -> Outcome: ...


class Power(Protocol):
    def reboot(self) -> Outcome: ...
    def shutdown(self) -> Outcome: ...


class Packages(Protocol):
    def upgrade(self, *, reboot_if_needed: bool) -> Outcome: ...


class Logs(Protocol):
    def collect(self, since_hours: int) -> Outcome: ...


class WakeOnLan(Protocol):
    def wake(self, macs: Sequence[str]) -> Outcome: ...


class SessionReset(Protocol):
    def reset(self) -> Outcome: ...


@dataclass
class Actions:
    """One implementation per concern, wired by :func:`actions_for`."""

    screen: Screen
    power: Power
    packages: Packages
    logs: Logs
    wake_on_lan: WakeOnLan
    session: SessionReset
    # The simulated set's record of what it was asked (None for the real one).
    simulated: SimulatedDevice | None = None


def actions_for(
    mode: str,
    *,
    recent_log: RecentLog | None = None,
    wol_broadcast: str = "255.255.255.255",
    wol_port: int = WOL_PORT,
) -> Actions:
    """The ``"system"`` or ``"simulated"`` set (``mode`` is validated by the settings)."""
    recent = recent_log or RecentLog()
    if mode == "simulated":
        return simulated_actions(recent)
    power = SystemPower()
    return Actions(
        screen=SystemScreen(),
        power=power,
        packages=AptPackages(power),
        logs=JournalLogs(recent),
        wake_on_lan=UdpWakeOnLan(wol_broadcast, wol_port),
        session=UnavailableSessionReset(),
    )


# -- running tools ------------------------------------------------------------------------------


def run_tool(argv: Sequence[str], *, timeout_s: float = TOOL_TIMEOUT_S) -> Outcome:
    """Run ``argv`` (no shell), stdout and stderr merged; a non-zero exit is a failed outcome."""
    log.info("running %s", " ".join(argv))
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError:
        return Outcome(False, f"{argv[0]} is not installed on this device")
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace")
        return Outcome(False, f"{output}\n{argv[0]} did not finish within {timeout_s:.0f} s")
    output = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        return Outcome(False, f"{output}\n{argv[0]} exited with status {done.returncode}".lstrip())
    return Outcome(True, output)


def run_quiet(
    argv: Sequence[str], *, timeout_s: float = TOOL_TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str] | None:
    """Run ``argv`` (no shell, no input), stdout and stderr kept apart, as text; None when the
    tool is missing, cannot start or outlives ``timeout_s``.

    For the cleaners and watchers that read a tool's output or only its exit status, and check
    the result themselves afterwards; nothing is logged (it runs every few seconds).
    """
    try:
        return subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout_s,
            check=False,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


# -- screen -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphicalSession:
    """A logind session with a screen (x11 or wayland) of a logged-in user."""

    id: str
    user: str
    uid: int
    display: str


class SystemScreen:
    """logind locks and unlocks every session; messages go through each user's notification bus.

    Limits of :meth:`show_message`: it reaches desktops that run a freedesktop notification
    server (GNOME, KDE, XFCE, Cinnamon …) in sessions logind knows as x11 or wayland; a bare
    window manager or a kiosk browser without one shows nothing (``notify-send`` still succeeds
    on some of them). Notification servers may read simple markup in the text, so ``<`` and
    ``&`` are escaped.
    """

    LOCK = ("loginctl", "lock-sessions")
    _SESSION_PROPERTIES = (
        *("-p", "Type", "-p", "Name", "-p", "User"),
        *("-p", "Display", "-p", "Class", "-p", "State"),
    )
    UNLOCK = ("loginctl", "unlock-sessions")

    def lock_all(self) -> Outcome:
        return run_tool(self.LOCK)

    def unlock_all(self) -> Outcome:
        return run_tool(self.UNLOCK)

    def show_message(self, text: str, seconds: int) -> Outcome:
        sessions = self.graphical_sessions()
        if not sessions:
            return Outcome(False, "no graphical session to show the message in")
        outputs = []
        ok = True
        for session in sessions:
            outcome = run_tool(self.notify_command(session, text, seconds))
            ok = ok and outcome.ok
            outputs.append(f"session {session.id} ({session.user}): {outcome.output or 'shown'}")
        return Outcome(ok, "\n".join(outputs))

    @staticmethod
    def notify_command(session: GraphicalSession, text: str, seconds: int) -> list[str]:
        """``notify-send`` as the session's user, on that user's D-Bus session bus.

        ``seconds == 0`` means "until dismissed": critical urgency and no expiry.
        """
        env = [f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{session.uid}/bus"]
        if session.display:
            env.append(f"DISPLAY={session.display}")
        body = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return [
            *("runuser", "-u", session.user, "--", "env", *env, "notify-send"),
            "--app-name=borne",
            "--urgency=critical" if seconds == 0 else "--urgency=normal",
            f"--expire-time={seconds * 1000}",
            "--",  # the text is data, never an option, even if it starts with "-"
            "Message",
            body,
        ]

    def graphical_sessions(self) -> list[GraphicalSession]:
        listed = run_tool(("loginctl", "list-sessions", "--no-legend"))
        if not listed.ok:
            return []
        sessions = []
        for line in listed.output.splitlines():
            if not line.split():
                continue
            session_id = line.split()[0]
            shown = run_tool(["loginctl", "show-session", session_id, *self._SESSION_PROPERTIES])
            props = dict(item.split("=", 1) for item in shown.output.splitlines() if "=" in item)
            if (
                props.get("Type") in ("x11", "wayland")
                and props.get("Class") == "user"
                and props.get("State") in ("active", "online")
                and props.get("Name")
                and props.get("User", "").isdigit()
            ):
                sessions.append(
                    GraphicalSession(
                        session_id, props["Name"], int(props["User"]), props.get("Display", "")
                    )
                )
        return sessions


# -- power --------------------------------------------------------------------------------------


class SystemPower:
    """``systemctl reboot`` / ``poweroff``, run by a transient timer ``POWER_DELAY_S`` later."""

    REBOOT = ("systemd-run", f"--on-active={POWER_DELAY_S}", "systemctl", "reboot")
    SHUTDOWN = ("systemd-run", f"--on-active={POWER_DELAY_S}", "systemctl", "poweroff")

    def reboot(self) -> Outcome:
        return _scheduled(run_tool(self.REBOOT), "reboot")

    def shutdown(self) -> Outcome:
        return _scheduled(run_tool(self.SHUTDOWN), "shutdown")


def _scheduled(outcome: Outcome, what: str) -> Outcome:
    if not outcome.ok:
        return outcome
    return Outcome(True, f"{what} in {POWER_DELAY_S} s\n{outcome.output}".rstrip())


# -- packages -----------------------------------------------------------------------------------


class AptPackages:
    """``apt-get update`` then a non-interactive ``upgrade`` keeping local configuration files."""

    UPDATE = ("apt-get", "update")
    UPGRADE = (
        *("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y"),
        *("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"),
        "upgrade",
    )

    def __init__(self, power: Power, *, reboot_required: Path = REBOOT_REQUIRED):
        self._power = power
        self._reboot_required = reboot_required

    def upgrade(self, *, reboot_if_needed: bool) -> Outcome:
        update = run_tool(self.UPDATE, timeout_s=APT_UPDATE_TIMEOUT_S)
        if not update.ok:
            return update
        upgrade = run_tool(self.UPGRADE, timeout_s=APT_UPGRADE_TIMEOUT_S)
        if not upgrade.ok or not self._reboot_required.exists():
            return upgrade
        if not reboot_if_needed:
            return Outcome(True, f"{upgrade.output}\na reboot is required (not asked for)")
        reboot = self._power.reboot()
        return Outcome(reboot.ok, f"{upgrade.output}\nreboot required: {reboot.output}")


# -- logs ---------------------------------------------------------------------------------------


class RecentLog(logging.Handler):
    """The agent's own last log lines, kept in memory for ``collect_logs``."""

    def __init__(self, max_lines: int = 200):
        super().__init__(level=logging.INFO)
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:  # a logging handler must never raise into the caller
            self.handleError(record)

    def lines(self) -> list[str]:
        return list(self._lines)


class JournalLogs:
    """The agent unit's journal since N hours, then the agent's own recent lines."""

    def __init__(self, recent: RecentLog):
        self._recent = recent

    @staticmethod
    def journal_command(since_hours: int) -> list[str]:
        return [
            *("journalctl", "--since", f"-{since_hours}h", "-u", AGENT_UNIT),
            *("--no-pager", "-o", "short-iso", "-n", "500"),
        ]

    def collect(self, since_hours: int) -> Outcome:
        journal = run_tool(self.journal_command(since_hours))
        recent = "\n".join(self._recent.lines())
        return Outcome(True, f"{journal.output.rstrip()}\n--- agent, recent ---\n{recent}")


# -- wake-on-LAN --------------------------------------------------------------------------------


def magic_packet(mac: str) -> bytes:
    """Six 0xFF bytes, then the MAC address 16 times (AMD's Magic Packet format)."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return b"\xff" * 6 + raw * 16


class UdpWakeOnLan:
    """One magic packet per MAC address, by UDP broadcast to ``address:port``."""

    def __init__(self, address: str = "255.255.255.255", port: int = WOL_PORT):
        self.address = address
        self.port = port

    def wake(self, macs: Sequence[str]) -> Outcome:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            for mac in macs:
                try:
                    sock.sendto(magic_packet(mac), (self.address, self.port))
                except OSError as exc:
                    return Outcome(False, f"cannot send to {self.address}:{self.port}: {exc}")
        return Outcome(
            True, f"magic packet sent to {', '.join(macs)} via {self.address}:{self.port}"
        )


# -- session reset ------------------------------------------------------------------------------


class UnavailableSessionReset:
    """The real wipe of a public PC's session comes with issue 4."""

    def reset(self) -> Outcome:
        return Outcome(False, "reset is not available on this agent yet")


# -- simulated ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    action: str
    args: dict[str, object] = field(default_factory=dict)


class SimulatedDevice:
    """What the simulated actions were asked, in order (thread-safe)."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, action: str, **args: object) -> None:
        with self._lock:
            self._calls.append(Call(action, args))

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)


class SimulatedScreen:
    def __init__(self, device: SimulatedDevice):
        self._device = device

    def lock_all(self) -> Outcome:
        self._device.record("lock_screen")
        return Outcome(True, "simulated: 1 session locked")

    def unlock_all(self) -> Outcome:
        self._device.record("unlock_screen")
        return Outcome(True, "simulated: 1 session unlocked")

    def show_message(self, text: str, seconds: int) -> Outcome:
        self._device.record("show_message", text=text, seconds=seconds)
        return Outcome(True, "simulated: session 2 (guest): shown")


class SimulatedPower:
    def __init__(self, device: SimulatedDevice):
        self._device = device

    def reboot(self) -> Outcome:
        self._device.record("reboot")
        return Outcome(True, f"simulated: reboot in {POWER_DELAY_S} s")

    def shutdown(self) -> Outcome:
        self._device.record("shutdown")
        return Outcome(True, f"simulated: shutdown in {POWER_DELAY_S} s")


class SimulatedPackages:
    def __init__(self, device: SimulatedDevice):
        self._device = device

    def upgrade(self, *, reboot_if_needed: bool) -> Outcome:
        self._device.record("maintenance", reboot_if_needed=reboot_if_needed)
        return Outcome(True, "simulated: 0 upgraded, 0 newly installed, 0 to remove")


class SimulatedLogs:
    def __init__(self, device: SimulatedDevice, recent: RecentLog):
        self._device = device
        self._recent = recent

    def collect(self, since_hours: int) -> Outcome:
        self._device.record("collect_logs", since_hours=since_hours)
        recent = "\n".join(self._recent.lines())
        return Outcome(True, f"simulated journal, last {since_hours} h\n{recent}")


class SimulatedWakeOnLan:
    def __init__(self, device: SimulatedDevice):
        self._device = device

    def wake(self, macs: Sequence[str]) -> Outcome:
        self._device.record("wake", macs=list(macs))
        return Outcome(True, f"simulated: magic packet sent to {', '.join(macs)}")


class SimulatedSessionReset:
    def __init__(self, device: SimulatedDevice):
        self._device = device

    def reset(self) -> Outcome:
        self._device.record("reset_session")
        return Outcome(True, "simulated: session reset")


def simulated_actions(recent: RecentLog | None = None) -> Actions:
    device = SimulatedDevice()
    return Actions(
        screen=SimulatedScreen(device),
        power=SimulatedPower(device),
        packages=SimulatedPackages(device),
        logs=SimulatedLogs(device, recent or RecentLog()),
        wake_on_lan=SimulatedWakeOnLan(device),
        session=SimulatedSessionReset(device),
        simulated=device,
    )

"""The guest cannot stop or change the agent: real signals and writes attempted as a real guest."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from guest_testkit import run_as

from agent.pc.guest import GuestAccount

UNIT = Path(__file__).resolve().parents[2] / "agent" / "systemd" / "borne-agent.service"


@pytest.fixture
def agent_stand_in() -> Iterator[subprocess.Popen[bytes]]:
    """A root-owned long-running process, as the agent is."""
    proc = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    yield proc
    proc.kill()
    proc.wait(10)


@pytest.fixture
def agent_state_dir() -> Iterator[Path]:
    """A root-owned 0700 state directory in a parent the guest may traverse (like /var/lib)."""
    with tempfile.TemporaryDirectory(prefix="borne-isolation-") as parent:
        os.chmod(parent, 0o755)  # noqa: S103 - the guest must reach the 0700 dir
        state = Path(parent) / "borne-agent"
        state.mkdir(mode=0o700)
        (state / "spool.sqlite").write_text("agent state")
        yield state


def test_the_guest_cannot_signal_the_agent(
    guest: GuestAccount, agent_stand_in: subprocess.Popen[bytes]
) -> None:
    for signal_name in ("TERM", "KILL", "STOP"):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            run_as(guest, "kill", "-s", signal_name, str(agent_stand_in.pid))
        assert "Operation not permitted" in refused.value.stderr

    assert agent_stand_in.poll() is None


def test_the_guest_cannot_read_or_write_the_agent_state(
    guest: GuestAccount, agent_state_dir: Path
) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        run_as(guest, "touch", str(agent_state_dir / "injected"))
    with pytest.raises(subprocess.CalledProcessError):
        run_as(guest, "cat", str(agent_state_dir / "spool.sqlite"))
    with pytest.raises(subprocess.CalledProcessError):
        run_as(guest, "rm", "-f", str(agent_state_dir / "spool.sqlite"))

    assert not (agent_state_dir / "injected").exists()
    assert (agent_state_dir / "spool.sqlite").read_text() == "agent state"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith(("#", ";")):
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_agent_unit_keeps_the_guest_out_and_can_still_reset() -> None:
    unit = unit_settings()

    assert unit["User"] == ["root"]  # not the guest nor a group the guest could join
    assert "Group" not in unit and "SupplementaryGroups" not in unit
    assert unit["StateDirectoryMode"] == ["0700"]
    assert unit["UMask"] == ["0077"]
    assert int(unit["OOMScoreAdjust"][0]) <= -500  # a guest's memory hog is killed first
    # What the reset itself needs: the real /home, /tmp and /etc.
    assert "ProtectHome" not in unit
    assert "PrivateTmp" not in unit
    assert unit["ProtectSystem"] == ["yes"]
    assert unit["RestrictNamespaces"] == ["mnt"]

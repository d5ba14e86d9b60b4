"""``borne agent reset`` and ``borne agent pc status`` at the PC, on a real guest account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.pc.guest import GuestAccount

BORNE = str(Path(sys.executable).parent / "borne")


def borne(guest: GuestAccount, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    skeleton = tmp_path / "skel"
    skeleton.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "BORNE_AGENT_GUEST_USER": guest.name,
        "BORNE_AGENT_GUEST_SKELETON": str(skeleton),
        "BORNE_AGENT_STATE_DIR": str(tmp_path / "state"),
    }
    return subprocess.run(
        [BORNE, "agent", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_reset_at_the_pc_wipes_and_status_tells_how_it_went(
    guest: GuestAccount, tmp_path: Path
) -> None:
    (guest.home / "lettre.odt").write_text("a resident's letter")

    before = borne(guest, tmp_path, "pc", "status")
    reset = borne(guest, tmp_path, "reset")
    after = borne(guest, tmp_path, "pc", "status")

    assert "last wipe: none recorded" in before.stdout
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("ready in ")
    assert list(guest.home.iterdir()) == []
    assert "guest login: open" in after.stdout
    assert "last wipe: ready in " in after.stdout


def test_reset_is_refused_for_an_account_that_is_not_a_guest(tmp_path: Path) -> None:
    env = {**os.environ, "BORNE_AGENT_GUEST_USER": "daemon"}
    answer = subprocess.run(
        [BORNE, "agent", "reset", "--state-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert answer.returncode == 1
    assert "reset refused" in answer.stderr and "system account" in answer.stderr

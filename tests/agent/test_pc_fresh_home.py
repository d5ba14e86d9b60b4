"""The display manager's check before each login (agent/pc/fresh_home.py and
``borne agent pc before-login``): the guest only ever logs in to a fresh home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.actions import Outcome
from agent.pc.fresh_home import before_login, mark_fresh, take_fresh
from agent.pc.guest import GuestAccount

BORNE = str(Path(sys.executable).parent / "borne")


def test_a_fresh_home_is_taken_once(guest: GuestAccount, tmp_path: Path) -> None:
    mark_fresh(tmp_path, guest)

    assert take_fresh(tmp_path, guest)
    assert not take_fresh(tmp_path, guest)  # the session that took it has used it


def test_a_mark_for_another_home_is_not_fresh(guest: GuestAccount, tmp_path: Path) -> None:
    mark_fresh(tmp_path, guest)
    guest.home.rename(guest.home.with_name(guest.home.name + "-old"))
    guest.home.mkdir()  # another directory in its place: another inode

    assert not take_fresh(tmp_path, guest)


def test_a_used_home_is_reset_before_the_login_and_a_failed_reset_refuses_it(
    guest: GuestAccount, tmp_path: Path
) -> None:
    resets: list[str] = []

    def reset() -> Outcome:
        resets.append("reset")
        mark_fresh(tmp_path, guest)
        return Outcome(True, "ready in 3 ms")

    allowed = before_login(tmp_path, guest, reset, wait_s=0)
    refused = before_login(tmp_path, guest, lambda: Outcome(False, "locked"), wait_s=0)

    assert allowed.ok and resets == ["reset"]
    assert not refused.ok and "login refused" in refused.output


def run_before_login(
    guest: GuestAccount, tmp_path: Path, user: str
) -> subprocess.CompletedProcess[str]:
    skeleton = tmp_path / "skel"
    skeleton.mkdir(exist_ok=True)
    (skeleton / "Bienvenue.txt").write_text("Bienvenue\n")
    env = {
        **os.environ,
        "BORNE_AGENT_GUEST_USER": guest.name,
        "BORNE_AGENT_GUEST_SKELETON": str(skeleton),
        "BORNE_AGENT_STATE_DIR": str(tmp_path / "state"),
        "USER": user,
    }
    return subprocess.run(
        [BORNE, "agent", "pc", "before-login"], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_display_managers_check_resets_a_used_home_then_lets_the_next_login_in(
    guest: GuestAccount, tmp_path: Path
) -> None:
    left = guest.home / "Documents" / "cv.odt"
    left.parent.mkdir()
    left.write_text("the last resident's CV")

    first = run_before_login(guest, tmp_path, guest.name)  # no agent reset it: this one does

    assert first.returncode == 0, first.stderr
    assert "had been used: reset first" in first.stderr
    assert sorted(p.name for p in guest.home.iterdir()) == ["Bienvenue.txt"]
    assert not left.exists()


def test_staff_logging_in_on_the_pc_is_not_concerned(guest: GuestAccount, tmp_path: Path) -> None:
    kept = guest.home / "kept.txt"
    kept.write_text("not touched")

    answer = run_before_login(guest, tmp_path, "marie")

    assert answer.returncode == 0 and kept.exists()

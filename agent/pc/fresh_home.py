"""No resident logs in to a home another resident used: checked by the display manager itself.

The agent resets the PC when it sees a session end, but it looks once a second, and a display
manager that logs the guest in again at once could start the next session first. So the display
manager asks before every guest login (LightDM's ``session-setup-script``, run as root, which
refuses the login when it fails): ``borne agent pc before-login``.

Each reset marks the home it swapped in as fresh (its device and inode, in the agent's state
directory). Before a login, a fresh home is taken (the mark is removed: the session now uses
it); a home without the mark has been used, so the PC is reset first, then the login goes on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from agent.actions import Outcome
from agent.pc.guest import GuestAccount

FRESH_MARK = "fresh-home.json"
# The agent looks once a second and marks the home within milliseconds of its swap.
WAIT_FOR_DAEMON_S = 5.0


def mark_fresh(state_dir: Path, guest: GuestAccount) -> None:
    """Note that ``guest``'s home was just swapped in by a reset."""
    st = os.stat(guest.home, follow_symlinks=False)
    target = Path(state_dir) / FRESH_MARK
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps({"dev": st.st_dev, "ino": st.st_ino}), encoding="utf-8")
    os.replace(temporary, target)


def take_fresh(state_dir: Path, guest: GuestAccount) -> bool:
    """True, and the mark removed, if the home is the one the last reset swapped in."""
    target = Path(state_dir) / FRESH_MARK
    try:
        mark = json.loads(target.read_text(encoding="utf-8"))
        st = os.stat(guest.home, follow_symlinks=False)
    except (OSError, ValueError):
        return False
    if (mark.get("dev"), mark.get("ino")) != (st.st_dev, st.st_ino):
        return False
    target.unlink(missing_ok=True)
    return True


def before_login(
    state_dir: Path,
    guest: GuestAccount,
    reset: Callable[[], Outcome],
    *,
    wait_s: float = WAIT_FOR_DAEMON_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Let the guest log in only to a fresh home: take it, or reset the PC first."""
    deadline = time.monotonic() + wait_s
    while True:
        if take_fresh(state_dir, guest):
            return Outcome(True, "fresh home: the login goes on")
        if time.monotonic() >= deadline:
            break
        sleep(0.1)
    outcome = reset()
    if not outcome.ok:
        return Outcome(False, f"the home could not be made fresh, login refused: {outcome.output}")
    take_fresh(state_dir, guest)
    return Outcome(True, f"the home had been used: reset first ({outcome.output.splitlines()[0]})")

"""Whether the guest may log in: locked after a wipe that left something, so nobody is exposed.

Locking expires the account (``usermod --expiredate 1``): PAM's account check then refuses every
login, the display manager's automatic login included, while the files and the uid stay as they
are. A later reset whose wipe is clean unlocks it. The reason is kept beside the agent's state so
``borne agent pc status`` and the heartbeat can say why the PC is out of service.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

from agent.pc.guest import GuestAccount, GuestRefused, resolve_guest

LOCK_FILE = "guest-locked"
SHADOW = Path("/etc/shadow")


class GuestLogin(Protocol):
    def lock(self, reason: str) -> None: ...
    def unlock(self) -> None: ...
    def locked_reason(self) -> str | None:
        """Why the guest login is locked, or None when residents may log in."""
        ...


class AccountExpiryLogin:
    """The real lock: the account's expiry date in /etc/shadow, and the reason in ``state_dir``."""

    def __init__(self, guest: GuestAccount, state_dir: Path, shadow: Path = SHADOW) -> None:
        self.guest = guest
        self.reason_file = Path(state_dir) / LOCK_FILE
        self.shadow = shadow

    def lock(self, reason: str) -> None:
        subprocess.run(
            ["usermod", "--expiredate", "1", self.guest.name], check=True, capture_output=True
        )
        self.reason_file.write_text(reason + "\n", encoding="utf-8")

    def unlock(self) -> None:
        subprocess.run(
            ["usermod", "--expiredate", "", self.guest.name], check=True, capture_output=True
        )
        self.reason_file.unlink(missing_ok=True)

    def locked_reason(self) -> str | None:
        if self._expired():
            try:
                return self.reason_file.read_text(encoding="utf-8").strip() or "locked"
            except FileNotFoundError:
                return "the guest account is expired (usermod --expiredate)"
        return None

    def _expired(self) -> bool:
        for line in self.shadow.read_text(encoding="utf-8").splitlines():
            fields = line.split(":")
            if fields[0] == self.guest.name and len(fields) > 7:
                return fields[7] not in ("", "-1") and int(fields[7]) <= 1
        return False


class GuestLoginByName:
    """:class:`AccountExpiryLogin` of the account named ``name``, looked up at each use, so a
    guest created after the agent started is locked for real (never an in-memory stand-in)."""

    def __init__(self, name: str, state_dir: Path) -> None:
        self.name = name
        self.state_dir = Path(state_dir)

    def lock(self, reason: str) -> None:
        self._login().lock(reason)  # GuestRefused propagates: a lock must never silently fail

    def unlock(self) -> None:
        self._login().unlock()

    def locked_reason(self) -> str | None:
        try:
            return self._login().locked_reason()
        except GuestRefused:
            return None  # no guest account yet: nobody can log in as it

    def _login(self) -> AccountExpiryLogin:
        return AccountExpiryLogin(resolve_guest(self.name), self.state_dir)


class MemoryLogin:
    """The same rules in memory, for unit tests of the reset's logic."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def lock(self, reason: str) -> None:
        self.reason = reason

    def unlock(self) -> None:
        self.reason = None

    def locked_reason(self) -> str | None:
        return self.reason

"""Whether the guest may log in: locked after a wipe that left something, so nobody is exposed, or
while a technician keeps the PC out of service.

Locking expires the account (``usermod --expiredate 1``): PAM's account check then refuses every
login, the display manager's automatic login included, while the files and the uid stay as they
are. Each reason (:class:`LockKind`) is kept in its own file beside the agent's state, so
``borne agent pc status`` and the heartbeat can say why the PC is out of service, and each is
lifted on its own: a later reset whose wipe is clean lifts the wipe's, only the technician's
switch lifts theirs, and the account opens again once no reason is left.
"""

from __future__ import annotations

import enum
import subprocess
from pathlib import Path
from typing import Protocol

from agent.pc.guest import GuestAccount, GuestRefused, resolve_guest


class LockKind(enum.StrEnum):
    """Why the guest login is locked."""

    WIPE = "wipe"  # the wipe left something (agent/pc/reset.py): a clean wipe lifts it
    OUT_OF_SERVICE = "out_of_service"  # a technician's switch: only the switch lifts it


# The wipe's file has the name it had before there were two reasons (a PC locked then stays so).
LOCK_FILES = {LockKind.WIPE: "guest-locked", LockKind.OUT_OF_SERVICE: "guest-out-of-service"}
# When both hold, the technician's decision is what staff read first.
SHOWN_FIRST = (LockKind.OUT_OF_SERVICE, LockKind.WIPE)
SHADOW = Path("/etc/shadow")


class GuestLogin(Protocol):
    def lock(self, reason: str, *, kind: LockKind = LockKind.WIPE) -> None: ...
    def unlock(self, *, kind: LockKind = LockKind.WIPE) -> None:
        """Lift this reason; residents may log in again once no reason is left."""
        ...

    def locked_reason(self, kind: LockKind | None = None) -> str | None:
        """Why the guest login is locked (for ``kind``, or for any reason), or None when
        residents may log in (or ``kind`` is not why it is locked)."""
        ...


class AccountExpiryLogin:
    """The real lock: the account's expiry date in /etc/shadow, and the reasons in ``state_dir``."""

    def __init__(self, guest: GuestAccount, state_dir: Path, shadow: Path = SHADOW) -> None:
        self.guest = guest
        self.state_dir = Path(state_dir)
        self.shadow = shadow

    def lock(self, reason: str, *, kind: LockKind = LockKind.WIPE) -> None:
        subprocess.run(
            ["usermod", "--expiredate", "1", self.guest.name], check=True, capture_output=True
        )
        self._file(kind).write_text(reason + "\n", encoding="utf-8")

    def unlock(self, *, kind: LockKind = LockKind.WIPE) -> None:
        # The account opens only when no other reason holds; the reason goes last, so a failed
        # usermod leaves the lock explained.
        if not any(self._file(other).exists() for other in LockKind if other is not kind):
            subprocess.run(
                ["usermod", "--expiredate", "", self.guest.name], check=True, capture_output=True
            )
        self._file(kind).unlink(missing_ok=True)

    def locked_reason(self, kind: LockKind | None = None) -> str | None:
        if not self._expired():
            return None
        reasons = {held: reason for held in SHOWN_FIRST if (reason := self._reason(held))}
        if not reasons:
            # Expired by hand, or before reasons were kept: the wipe's, which a clean wipe lifts.
            reasons[LockKind.WIPE] = "the guest account is expired (usermod --expiredate)"
        if kind is not None:
            return reasons.get(kind)
        return "; ".join(reasons.values())

    def _file(self, kind: LockKind) -> Path:
        return self.state_dir / LOCK_FILES[kind]

    def _reason(self, kind: LockKind) -> str | None:
        try:
            return self._file(kind).read_text(encoding="utf-8").strip() or "locked"
        except FileNotFoundError:
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

    def lock(self, reason: str, *, kind: LockKind = LockKind.WIPE) -> None:
        # GuestRefused propagates: a lock must never silently fail
        self._login().lock(reason, kind=kind)

    def unlock(self, *, kind: LockKind = LockKind.WIPE) -> None:
        self._login().unlock(kind=kind)

    def locked_reason(self, kind: LockKind | None = None) -> str | None:
        try:
            return self._login().locked_reason(kind)
        except GuestRefused:
            return None  # no guest account yet: nobody can log in as it

    def _login(self) -> AccountExpiryLogin:
        return AccountExpiryLogin(resolve_guest(self.name), self.state_dir)


class MemoryLogin:
    """The same rules in memory, for unit tests of the reset's logic and the demo."""

    def __init__(self) -> None:
        self.reasons: dict[LockKind, str] = {}

    def lock(self, reason: str, *, kind: LockKind = LockKind.WIPE) -> None:
        self.reasons[kind] = reason

    def unlock(self, *, kind: LockKind = LockKind.WIPE) -> None:
        self.reasons.pop(kind, None)

    def locked_reason(self, kind: LockKind | None = None) -> str | None:
        if kind is not None:
            return self.reasons.get(kind)
        return "; ".join(self.reasons[k] for k in SHOWN_FIRST if k in self.reasons) or None

"""The guest account residents use, and the checks that keep the wipe away from anyone else.

Every cleaner takes a :class:`GuestAccount`, and the only way to get one is :func:`resolve_guest`,
which refuses system accounts (uid below 1000), root, and staff accounts (members of an
administrative group). So a wrong setting (``guest_user = "marie"``, a mediator) stops the reset
with a clear error instead of deleting a colleague's home.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

DEFAULT_GUEST = "borne-guest"
FIRST_REGULAR_UID = 1000
# Groups that make an account staff on Debian, Ubuntu and Fedora-like systems: never a guest.
STAFF_GROUPS = frozenset({"root", "sudo", "wheel", "adm", "admin", "lpadmin", "borne-staff"})


class GuestRefused(Exception):
    """The configured account must not be treated as the guest; the message says why."""


@dataclass(frozen=True)
class GuestAccount:
    name: str
    uid: int
    gid: int
    home: Path


def resolve_guest(name: str = DEFAULT_GUEST) -> GuestAccount:
    """The guest account ``name`` as the system knows it, once it passed every safety check."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise GuestRefused(
            f"no account named {name!r} on this PC; create it with: borne agent pc setup"
        ) from exc
    if entry.pw_uid < FIRST_REGULAR_UID:
        raise GuestRefused(
            f"account {name!r} has uid {entry.pw_uid}, a system account (below "
            f"{FIRST_REGULAR_UID}): it is never wiped"
        )
    if entry.pw_uid == os.getuid() and entry.pw_uid != 0:
        raise GuestRefused(f"account {name!r} runs the agent itself: it is never wiped")
    staff = sorted(set(_group_names(entry)) & STAFF_GROUPS)
    if staff:
        raise GuestRefused(
            f"account {name!r} belongs to the staff group(s) {', '.join(staff)}: it is never wiped"
        )
    home = Path(entry.pw_dir)
    if not home.is_absolute() or home in (Path("/"), Path("/home"), Path("/root")):
        raise GuestRefused(f"account {name!r} has the home {entry.pw_dir!r}: it is never wiped")
    return GuestAccount(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=home)


def _group_names(entry: pwd.struct_passwd) -> list[str]:
    names = [g.gr_name for g in grp.getgrall() if entry.pw_name in g.gr_mem]
    with contextlib.suppress(KeyError):
        names.append(grp.getgrgid(entry.pw_gid).gr_name)
    return names

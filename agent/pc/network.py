"""NetworkManager connections the guest added: deleted at every reset, their secrets with them.

A resident who joins their own Wi-Fi, phone hotspot or VPN from the desktop leaves a keyfile in
``/etc/NetworkManager/system-connections`` holding the password (``psk=``) and the network's
name; a connection made "volatile" or "in memory" (``nmcli --temporary``, some applets) lives
in ``/run/NetworkManager/system-connections`` until the next boot, which a public PC may not
see for weeks. Left behind, either would let the next resident's session join the previous
resident's network or VPN, and the secret would stay on a shared PC: both directories are
cleaned.

A connection added from a guest's desktop is private to the guest: NetworkManager records it as
``permissions=user:<guest>;`` in the ``[connection]`` section, and only such files are deleted.
Connections without permissions (the library's Wi-Fi, set by city IT) and other users' are kept.
``borne agent pc setup`` (:mod:`agent.pc.lockdown`) adds a polkit rule that forbids the guest
``org.freedesktop.NetworkManager.settings.modify.system``, so the guest cannot add a
system-wide connection that this module would not recognise as theirs.

Then ``nmcli connection reload`` makes NetworkManager forget them, when it runs.
"""

from __future__ import annotations

import configparser
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from agent.actions import run_quiet
from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.report import Leftover, WipeReport, printable_path

SYSTEM_CONNECTIONS = (
    Path("/etc/NetworkManager/system-connections"),
    Path("/run/NetworkManager/system-connections"),  # in-memory connections, until reboot
)
NMCLI_TIMEOUT_S = 15


class UnreadableKeyfile(Exception):
    """A file NetworkManager could not load either (it parses keyfiles as GKeyFile does)."""


def remove_guest_connections(
    guest: GuestAccount,
    report: WipeReport,
    connections_dirs: Sequence[Path] = SYSTEM_CONNECTIONS,
) -> None:
    """Delete the keyfiles of the connections private to the guest, then reload NetworkManager."""
    _check(guest)
    removed = 0
    for path in _keyfiles(connections_dirs):
        try:
            if not _belongs_to(path, guest.name):
                continue
        except UnreadableKeyfile:
            # Kept: it may be city IT's. The directory is root's (0700) and NetworkManager does
            # not load a file it cannot parse, so nobody uses or reads it; staff see the note.
            report.did(f"kept the unreadable connection file {printable_path(str(path))}")
            continue
        path.unlink(missing_ok=True)
        removed += 1
    if removed:
        report.did(f"removed {removed} network connections")
        _reload_network_manager()
    for leftover in guest_connections_left(guest, connections_dirs):
        report.left(leftover.area, leftover.path, leftover.reason)


def guest_connections_left(
    guest: GuestAccount, connections_dirs: Sequence[Path] = SYSTEM_CONNECTIONS
) -> list[Leftover]:
    """Keyfiles still in ``connections_dirs`` whose permissions name the guest."""
    _check(guest)
    left = []
    for path in _keyfiles(connections_dirs):
        try:
            if _belongs_to(path, guest.name):
                left.append(Leftover("network", printable_path(str(path)), "connection kept"))
        except UnreadableKeyfile:
            continue
    return left


def _keyfiles(directories: Sequence[Path]) -> list[Path]:
    """Regular files of ``directories``; symlinks are not followed (nor deleted through)."""
    found = []
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except OSError:  # NetworkManager not installed, or no in-memory connection yet
            continue
        found += sorted(Path(e.path) for e in entries if e.is_file(follow_symlinks=False))
    return found


def _belongs_to(path: Path, user: str) -> bool:
    """Whether ``[connection] permissions=`` lists ``user:<user>``.

    The value is a list like ``user:alice:;user:bob:;`` (the third field is reserved); a file
    naming several users is deleted too, since the guest could use it.
    """
    keyfile = configparser.ConfigParser(
        interpolation=None,  # "%" in a Wi-Fi password is a character
        strict=False,  # GKeyFile accepts a repeated key (the last one wins)
        comment_prefixes=("#",),
        delimiters=("=",),
    )
    keyfile.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    try:
        keyfile.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        raise UnreadableKeyfile(str(path)) from exc
    permissions = keyfile.get("connection", "permissions", fallback="")
    users = {
        entry.split(":")[1]
        for entry in permissions.split(";")
        if entry.startswith("user:") and entry.count(":") >= 1
    }
    return user in users


def _reload_network_manager() -> None:
    """``nmcli connection reload`` when NetworkManager runs (not in CI nor containers)."""
    if shutil.which("nmcli") is None:
        return
    for argv in (["nmcli", "-t", "-f", "RUNNING", "general"], ["nmcli", "connection", "reload"]):
        done = run_quiet(argv, timeout_s=NMCLI_TIMEOUT_S)
        if done is None or done.returncode != 0:
            return
        if argv[-1] == "general" and done.stdout.strip() != "running":
            return


def _check(guest: GuestAccount) -> None:
    if guest.uid < FIRST_REGULAR_UID or not guest.name or ":" in guest.name:
        raise ValueError(f"refusing to remove the connections of {guest.name!r}: not a guest")

"""Removing the guest's NetworkManager connections: real keyfiles as NetworkManager writes them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from agent.pc.guest import GuestAccount
from agent.pc.network import guest_connections_left, remove_guest_connections
from agent.pc.report import WipeReport


def keyfile(directory: Path, name: str, *, permissions: str | None, psk: str) -> Path:
    """A Wi-Fi keyfile the way NetworkManager 1.42 saves one."""
    connection = f"id={name}\nuuid={uuid.uuid4()}\n"
    connection += "type=wifi\n"
    if permissions is not None:
        connection += f"permissions={permissions}\n"
    path = directory / f"{name}.nmconnection"
    path.write_text(
        f"[connection]\n{connection}\n[wifi]\nmode=infrastructure\nssid={name}\n\n"
        f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={psk}\n\n[ipv4]\nmethod=auto\n"
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def connections(tmp_path: Path) -> Path:
    """Stands for /etc/NetworkManager/system-connections."""
    directory = tmp_path / "etc" / "system-connections"
    directory.mkdir(mode=0o700, parents=True)
    return directory


@pytest.fixture
def in_memory(tmp_path: Path) -> Path:
    """Stands for /run/NetworkManager/system-connections (``nmcli --temporary``)."""
    directory = tmp_path / "run" / "system-connections"
    directory.mkdir(mode=0o700, parents=True)
    return directory


def test_the_guests_connection_goes_with_its_password(
    guest: GuestAccount, connections: Path
) -> None:
    mine = keyfile(connections, "Box-Madame-X", permissions=f"user:{guest.name}:;", psk="%ma;clé")
    report = WipeReport()

    remove_guest_connections(guest, report, [connections])

    assert not mine.exists()
    assert not any("%ma;clé" in p.read_text() for p in connections.iterdir())
    assert guest_connections_left(guest, [connections]) == []
    assert report.actions == ["removed 1 network connections"]
    assert report.clean


def test_an_in_memory_connection_goes_too(
    guest: GuestAccount, connections: Path, in_memory: Path
) -> None:
    library = keyfile(connections, "Bibliotheque-Wifi", permissions=None, psk="library-key")
    temporary = keyfile(in_memory, "Partage-4G", permissions=f"user:{guest.name}:;", psk="4g-key")
    directories = [connections, in_memory]
    assert [left.path for left in guest_connections_left(guest, directories)] == [str(temporary)]
    report = WipeReport()

    remove_guest_connections(guest, report, directories)

    assert library.exists() and not temporary.exists()
    assert guest_connections_left(guest, directories) == []
    assert report.actions == ["removed 1 network connections"]


def test_shared_and_other_users_connections_stay(guest: GuestAccount, connections: Path) -> None:
    library = keyfile(connections, "Bibliotheque-Wifi", permissions=None, psk="library-key")
    staff = keyfile(connections, "Staff", permissions="user:mediatrice:;", psk="staff-key")
    lookalike = keyfile(
        connections, "Lookalike", permissions=f"user:{guest.name}x:;", psk="other-key"
    )
    both = keyfile(
        connections, "Shared", permissions=f"user:mediatrice:;user:{guest.name}:;", psk="k"
    )

    remove_guest_connections(guest, WipeReport(), [connections])

    assert library.exists() and staff.exists() and lookalike.exists()
    assert not both.exists()  # the guest could use it: it goes too


def test_a_malformed_keyfile_is_kept_and_reported(guest: GuestAccount, connections: Path) -> None:
    broken = connections / "broken.nmconnection"
    broken.write_text(f"permissions=user:{guest.name}:;\nno section header\n")
    mine = keyfile(connections, "Mine", permissions=f"user:{guest.name}:;", psk="secret")
    report = WipeReport()

    remove_guest_connections(guest, report, [connections])

    assert broken.exists()
    assert not mine.exists()
    # Its full path, so that the redaction at the edge hides the name a resident may have chosen.
    assert f"kept the unreadable connection file {broken}" in report.actions


def test_a_symlink_is_not_followed(guest: GuestAccount, connections: Path, tmp_path: Path) -> None:
    outside = keyfile(tmp_path, "Outside", permissions=f"user:{guest.name}:;", psk="x")
    (connections / "link.nmconnection").symlink_to(outside)

    remove_guest_connections(guest, WipeReport(), [connections])

    assert outside.exists()


def test_no_networkmanager_is_not_an_error(guest: GuestAccount, tmp_path: Path) -> None:
    report = WipeReport()
    remove_guest_connections(guest, report, [tmp_path / "absent", tmp_path / "gone"])
    assert report.actions == [] and report.clean

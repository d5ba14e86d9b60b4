"""Host keys: fingerprints as OpenSSH prints them, refused unless pinned or vouched for.

Connections to a real sshd (unknown, changed and vouched-for keys) are in test_live_bootstrap.py.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import paramiko
import pytest

from provisioning.ssh import HostKeyUnknown, PinnedHostKeys, fingerprint, known_hosts_name


@pytest.fixture
def host_key(tmp_path: Path) -> tuple[paramiko.PKey, str]:
    """A host key and its fingerprint as ssh-keygen prints it."""
    path = tmp_path / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    return paramiko.Ed25519Key.from_private_key_file(str(path)), printed


def test_fingerprints_are_the_ones_openssh_prints(host_key: tuple[paramiko.PKey, str]) -> None:
    key, printed = host_key
    assert fingerprint(key) == printed


def test_known_hosts_names_a_port_other_than_22_in_brackets() -> None:
    assert known_hosts_name("pc-01", 22) == "pc-01"
    assert known_hosts_name("10.0.4.12", 2222) == "[10.0.4.12]:2222"


def test_an_unknown_key_is_refused_with_its_fingerprint_and_nothing_is_pinned(
    host_key: tuple[paramiko.PKey, str], tmp_path: Path
) -> None:
    key, printed = host_key
    known_hosts = tmp_path / "ssh" / "known_hosts"
    policy = PinnedHostKeys(known_hosts, None, threading.Lock())

    with pytest.raises(HostKeyUnknown) as refused:
        policy.missing_host_key(None, "[pc-01]:2222", key)

    assert f"run again with --trust-host {printed}" in str(refused.value)
    assert not known_hosts.exists()


def test_another_fingerprint_than_the_one_vouched_for_is_refused(
    host_key: tuple[paramiko.PKey, str], tmp_path: Path
) -> None:
    key, printed = host_key
    known_hosts = tmp_path / "known_hosts"
    policy = PinnedHostKeys(known_hosts, "SHA256:" + "B" * 43, threading.Lock())

    with pytest.raises(HostKeyUnknown) as refused:
        policy.missing_host_key(None, "pc-01", key)
    assert f"is {printed}, not SHA256:BBB" in str(refused.value)
    assert not known_hosts.exists()


def test_the_key_vouched_for_is_pinned_in_a_private_known_hosts(
    host_key: tuple[paramiko.PKey, str], tmp_path: Path
) -> None:
    key, printed = host_key
    known_hosts = tmp_path / "ssh" / "known_hosts"

    PinnedHostKeys(known_hosts, printed, threading.Lock()).missing_host_key(None, "pc-01", key)

    assert known_hosts.read_text() == f"pc-01 ssh-ed25519 {key.get_base64()}\n"
    assert known_hosts.stat().st_mode & 0o777 == 0o600
    assert known_hosts.parent.stat().st_mode & 0o777 == 0o700
    pinned = paramiko.HostKeys(str(known_hosts))
    assert pinned.lookup("pc-01")["ssh-ed25519"] == key

"""A throwaway OpenSSH server for a test (Debian's /usr/sbin/sshd, installed by make).

It listens on 127.0.0.1 and a free port with its own sshd_config, host key and accepted client
key in a directory the test gives, so the provisioning and Ansible tests talk to a real sshd
without touching the machine's own (no /etc/ssh file is read or written, port 22 is left alone).

The accepted keys are served by ``AuthorizedKeysCommand`` running ``cat`` as root rather than
read from an ``AuthorizedKeysFile``: sshd reads such a file with the user's uid, and a pytest
temporary directory (0700, root's) is closed to any other user. ``AllowUsers`` limits sign-in to
``users``; a user other than root must exist on the machine with an account that is not locked
(with ``UsePAM no``, a password field starting with "!" — useradd's default — is refused:
``system_user`` below makes such an account).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.postgres import free_port

SSHD = "/usr/sbin/sshd"


@dataclass
class SshServer:
    """How to reach the running server, and the files an SSH client needs to trust it."""

    host: str
    port: int
    user: str
    client_key: Path  # private key (ed25519) accepted for every user of the server
    host_key_fingerprint: str  # "SHA256:…" as OpenSSH prints it
    known_hosts: Path  # one line, "[127.0.0.1]:port ssh-ed25519 AAAA…"


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def fingerprint(public_key: Path) -> str:
    """The key's "SHA256:…" fingerprint, as ``ssh-keygen -l`` prints it."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1]


def _config(tmp: Path, port: int, users: Sequence[str]) -> str:
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {tmp / 'ssh_host_ed25519_key'}",
            f"PidFile {tmp / 'sshd.pid'}",
            "AuthorizedKeysFile none",
            f"AuthorizedKeysCommand /bin/cat {tmp / 'authorized_keys'}",
            "AuthorizedKeysCommandUser root",
            f"AllowUsers {' '.join(users)}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            # PAM's session modules (pam_loginuid) fail in a container; nothing here needs them.
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "X11Forwarding no",
            # A batch of bootstraps opens many connections at once.
            "MaxStartups 100",
            "MaxSessions 100",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]
    )


def _wait_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the test sshd exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test sshd did not answer: {log.read_text(errors='replace')}")
        time.sleep(0.05)


@contextmanager
def running_sshd(tmp: Path, *, users: Sequence[str] = ("root",)) -> Iterator[SshServer]:
    """Start sshd on 127.0.0.1 with its files in ``tmp``; yield how to reach it as ``users[0]``.

    The same client key is accepted for every name in ``users``; a test signs in as another
    of them by replacing ``user`` (``dataclasses.replace(server, user="alice")``).
    """
    if not Path(SSHD).exists():
        raise RuntimeError("OpenSSH's server is not installed: run 'make install-services'")
    tmp.mkdir(parents=True, exist_ok=True)
    host_key = tmp / "ssh_host_ed25519_key"
    client_key = tmp / "client_ed25519"
    for stale in (host_key, client_key):
        stale.unlink(missing_ok=True)
        stale.with_suffix(".pub").unlink(missing_ok=True)
    _keygen(host_key, "borne-test-host")
    _keygen(client_key, "borne-test-client")
    shutil.copyfile(client_key.with_suffix(".pub"), tmp / "authorized_keys")
    port = free_port()
    config = tmp / "sshd_config"
    config.write_text(_config(tmp, port, users))
    key_type, key_blob = host_key.with_suffix(".pub").read_text().split()[:2]
    known_hosts = tmp / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_blob}\n")
    # sshd's privilege-separation directory; Debian's init script makes it, nothing else does.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = tmp / "sshd.log"
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(server, port, log)
        yield SshServer(
            host="127.0.0.1",
            port=port,
            user=users[0],
            client_key=client_key,
            host_key_fingerprint=fingerprint(host_key.with_suffix(".pub")),
            known_hosts=known_hosts,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def system_user(name: str) -> Iterator[str]:
    """A real account ``name`` (with a home, bash, no password and no sudo) for the test's
    duration, that the test sshd lets in by key; removed with its home at the end."""
    made = subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", name],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        raise RuntimeError(
            f"useradd {name} failed: {made.stderr.strip()} (left by an interrupted run? "
            f"userdel --remove {name})"
        )
    try:
        yield name
    finally:
        subprocess.run(["userdel", "--force", "--remove", name], capture_output=True)

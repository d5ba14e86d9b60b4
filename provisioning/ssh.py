"""SSH to a host being provisioned: paramiko, with the host's key pinned in known_hosts.

Threat model: the admin types an address on a city network where anyone may answer on port 22.
A host whose key is not in known_hosts is refused, and the fingerprint it showed is printed; the
admin compares it with the PC's own (``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` on its
console) and runs again with ``--trust-host SHA256:…``, which pins the key in known_hosts — the
key only, never "whatever answers next time". A key that differs from the pinned one is refused
loudly: the PC was reinstalled, or someone is in the middle. Nothing is written to the host before
its key has been checked and the user has signed in.

Every command run on the host goes through :class:`RemoteHost`; :class:`SshHost` is the paramiko
one, and the unit tests give the bootstrap a recording fake.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paramiko

from provisioning.errors import ProvisioningError

CONNECT_TIMEOUT_S = 15.0


class HostKeyUnknown(ProvisioningError):
    """The host's key is not in known_hosts, and the admin did not vouch for it."""


class HostKeyChanged(ProvisioningError):
    """The host shows another key than the one pinned in known_hosts."""


def fingerprint(key: Any) -> str:
    """A paramiko key's fingerprint as OpenSSH prints it: ``SHA256:`` and unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a host: ``host``, or ``[host]:port`` off port 22 (sshd(8))."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class SshTarget:
    """Where to connect and as whom; ``identity`` None means ssh-agent and ~/.ssh's keys."""

    host: str
    port: int = 22
    user: str = "root"
    identity: Path | None = None

    def __str__(self) -> str:
        return f"{self.user}@{self.host}" + ("" if self.port == 22 else f":{self.port}")


class PinnedHostKeys(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
    """paramiko's answer to a host missing from known_hosts: refuse, unless the admin passed
    that very key's fingerprint (then pin it). A *changed* key never reaches this policy:
    paramiko raises BadHostKeyException first."""

    def __init__(self, known_hosts: Path, trust: str | None, lock: threading.Lock) -> None:
        self.known_hosts = known_hosts
        self.trust = trust
        self.lock = lock

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        seen = fingerprint(key)
        if self.trust is None:
            raise HostKeyUnknown(
                f"the host key of {hostname} is not in {self.known_hosts}; it is "
                f"{key.get_name()} {seen}. Check it on the host's console (ssh-keygen -lf "
                f"/etc/ssh/ssh_host_ed25519_key.pub), then run again with --trust-host {seen}"
            )
        if self.trust.removeprefix("SHA256:") != seen.removeprefix("SHA256:"):
            raise HostKeyUnknown(
                f"the host key of {hostname} is {seen}, not {self.trust} given with "
                "--trust-host: refused (another machine answered, or the fingerprint was "
                "mistyped)"
            )
        pin_host_key(self.known_hosts, hostname, key, self.lock)


def pin_host_key(known_hosts: Path, hostname: str, key: Any, lock: threading.Lock) -> None:
    """Append ``hostname key`` to known_hosts (created 0600 in a 0700 folder if missing)."""
    with lock:
        known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        known_hosts.touch(mode=0o600, exist_ok=True)
        with known_hosts.open("a", encoding="ascii") as out:
            out.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


@dataclass(frozen=True)
class CommandResult:
    status: int
    output: str  # standard output and error, interleaved as the host wrote them

    @property
    def ok(self) -> bool:
        return self.status == 0


class RemoteHost(Protocol):
    """A host the bootstrap works on: run a shell command, copy a file to it."""

    target: SshTarget

    def run(self, command: str, *, timeout: float = 600.0) -> CommandResult: ...

    def put(self, local: Path, remote: str) -> None: ...

    def put_text(self, text: str, remote: str) -> None: ...

    def close(self) -> None: ...


class SshHost:
    """A host over one paramiko connection (commands on channels, files by SFTP)."""

    def __init__(self, target: SshTarget, client: Any) -> None:
        self.target = target
        self.client = client
        self._sftp: Any = None

    @classmethod
    def connect(
        cls,
        target: SshTarget,
        *,
        known_hosts: Path,
        trust: str | None = None,
        lock: threading.Lock | None = None,
    ) -> SshHost:
        """Connect and sign in; raise :class:`ProvisioningError` saying what failed."""
        client = paramiko.SSHClient()
        if known_hosts.exists():
            try:
                client.load_system_host_keys(str(known_hosts))  # read, never rewritten
            except (OSError, paramiko.SSHException) as exc:
                raise ProvisioningError(f"cannot read {known_hosts}: {exc}") from exc
        client.set_missing_host_key_policy(
            PinnedHostKeys(known_hosts, trust, lock or threading.Lock())
        )
        name = known_hosts_name(target.host, target.port)
        try:
            client.connect(
                target.host,
                port=target.port,
                username=target.user,
                key_filename=str(target.identity) if target.identity else None,
                look_for_keys=target.identity is None,
                allow_agent=target.identity is None,
                timeout=CONNECT_TIMEOUT_S,
                banner_timeout=CONNECT_TIMEOUT_S,
                auth_timeout=CONNECT_TIMEOUT_S,
            )
        except ProvisioningError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyChanged(
                f"REFUSED: the host key of {name} has CHANGED. known_hosts ({known_hosts}) "
                f"pins {fingerprint(exc.expected_key)}, the host shows "
                f"{fingerprint(exc.key)}. Someone may be intercepting the connection, or the "
                f"PC was reinstalled. Only if you know it was: ssh-keygen -f {known_hosts} "
                f"-R '{name}', then run again with --trust-host {fingerprint(exc.key)}"
            ) from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            how = (
                f"the key {target.identity}" if target.identity else "ssh-agent's and ~/.ssh's keys"
            )
            raise ProvisioningError(
                f"{target} refused to sign in with {how}: wrong user or key ({exc})"
            ) from exc
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            raise ProvisioningError(
                f"cannot reach {name} over SSH: nothing accepts connections on port "
                f"{target.port} (is the PC on, and its SSH server installed?)"
            ) from exc
        except TimeoutError as exc:
            client.close()
            raise ProvisioningError(
                f"cannot reach {name} over SSH: no answer within {CONNECT_TIMEOUT_S:.0f} s"
            ) from exc
        except socket.gaierror as exc:
            client.close()
            raise ProvisioningError(f"unknown host {target.host!r}: {exc.strerror}") from exc
        except (OSError, paramiko.SSHException, EOFError) as exc:
            client.close()
            raise ProvisioningError(f"cannot reach {name} over SSH: {exc}") from exc
        return cls(target, client)

    def run(self, command: str, *, timeout: float = 600.0) -> CommandResult:
        try:
            channel = self.client.get_transport().open_session(timeout=CONNECT_TIMEOUT_S)
            channel.settimeout(timeout)
            channel.set_combine_stderr(True)  # one stream: no deadlock on a full stderr window
            channel.exec_command(command)
            chunks = []
            while chunk := channel.recv(65536):
                chunks.append(chunk)
            status = channel.recv_exit_status()
            channel.close()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise ProvisioningError(f"{self.target}: the connection failed: {exc}") from exc
        return CommandResult(status, b"".join(chunks).decode(errors="replace"))

    def _sftp_client(self) -> Any:
        if self._sftp is None:
            self._sftp = self.client.open_sftp()
        return self._sftp

    def put(self, local: Path, remote: str) -> None:
        try:
            self._sftp_client().put(str(local), remote)
        except (OSError, paramiko.SSHException) as exc:
            raise ProvisioningError(f"{self.target}: copying {local.name} failed: {exc}") from exc

    def put_text(self, text: str, remote: str) -> None:
        try:
            with self._sftp_client().open(remote, "w") as out:
                out.write(text.encode())
        except (OSError, paramiko.SSHException) as exc:
            raise ProvisioningError(f"{self.target}: writing {remote} failed: {exc}") from exc

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()

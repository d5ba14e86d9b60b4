"""The device's identity: ``<state_dir>/credentials.json``, readable by root alone.

The secret is what the controller checks on every connection, so the file is created with mode
0600 from the start (never chmod-ed after a window where it was readable), written to a temporary
file in the same directory and renamed into place so a crash never leaves half a file.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from agent.private_files import write_private_json
from agent.protocol import DeviceKind

CREDENTIALS_FILE = "credentials.json"


class CredentialsError(Exception):
    """The credentials file is missing, unreadable, or already there when it should not be."""


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    device_id: str
    device_secret: str
    site_id: int
    kind: DeviceKind
    controller_url: str
    heartbeat_interval_s: int = 10


def credentials_path(state_dir: Path) -> Path:
    return Path(state_dir) / CREDENTIALS_FILE


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state directory with mode 0700 (and tighten it if it exists)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)


def save_credentials(state_dir: Path, credentials: Credentials, *, force: bool = False) -> Path:
    """Write the credentials atomically with mode 0600; refuse to replace them unless ``force``."""
    path = credentials_path(state_dir)
    if path.exists() and not force:
        raise CredentialsError(
            f"{path} already exists: this device is enrolled. Use --force to enrol it again."
        )
    ensure_state_dir(path.parent)
    write_private_json(path, credentials)
    return path


def replace_secret(state_dir: Path, secret: str) -> Credentials:
    """Keep the device's new secret (a rotation): written like enrolment's file, and the
    directory synced too, so the rename survives a power cut.

    The controller refuses the old secret once the new one is first used, so the new one must
    be on disk before that: a device that came back with the old file would be locked out.
    """
    credentials = msgspec.structs.replace(load_credentials(state_dir), device_secret=secret)
    path = credentials_path(state_dir)
    write_private_json(path, credentials)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return credentials


def load_credentials(state_dir: Path) -> Credentials:
    """Read the credentials written at enrolment."""
    path = credentials_path(state_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CredentialsError(
            f"{path} does not exist: enrol this device first with 'borne agent enrol'"
        ) from exc
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return msgspec.json.decode(data, type=Credentials)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise CredentialsError(f"{path} is damaged ({exc}); enrol again with --force") from exc

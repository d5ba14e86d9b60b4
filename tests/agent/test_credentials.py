from __future__ import annotations

import stat
from pathlib import Path

import pytest
from agent_testkit import make_credentials

from agent.credentials import (
    CredentialsError,
    load_credentials,
    replace_secret,
    save_credentials,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_credentials_are_readable_by_owner_only(state_dir: Path) -> None:
    path = save_credentials(state_dir, make_credentials("http://127.0.0.1:1"))
    assert _mode(path) == 0o600
    assert _mode(state_dir) == 0o700
    assert [p.name for p in state_dir.iterdir()] == ["credentials.json"]  # no temp file left


def test_saved_credentials_load_back(state_dir: Path) -> None:
    credentials = make_credentials("http://127.0.0.1:1", heartbeat_interval_s=30)
    save_credentials(state_dir, credentials)
    assert load_credentials(state_dir) == credentials


def test_existing_credentials_are_not_overwritten_without_force(state_dir: Path) -> None:
    save_credentials(state_dir, make_credentials("http://127.0.0.1:1", device_id="first"))
    with pytest.raises(CredentialsError, match="--force"):
        save_credentials(state_dir, make_credentials("http://127.0.0.1:1", device_id="second"))
    assert load_credentials(state_dir).device_id == "first"

    save_credentials(
        state_dir, make_credentials("http://127.0.0.1:1", device_id="second"), force=True
    )
    assert load_credentials(state_dir).device_id == "second"
    assert _mode(state_dir / "credentials.json") == 0o600


def test_missing_credentials_tell_to_enrol(state_dir: Path) -> None:
    with pytest.raises(CredentialsError, match="borne agent enrol"):
        load_credentials(state_dir)


def test_damaged_credentials_are_reported(state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "credentials.json").write_text('{"device_id": 3}')
    with pytest.raises(CredentialsError, match="damaged"):
        load_credentials(state_dir)


def test_a_new_secret_replaces_only_the_secret_owner_only_and_whole(state_dir: Path) -> None:
    enrolled = make_credentials("http://127.0.0.1:1", heartbeat_interval_s=30)
    save_credentials(state_dir, enrolled)

    replace_secret(state_dir, "the-rotated-secret")

    assert load_credentials(state_dir) == make_credentials(
        "http://127.0.0.1:1", heartbeat_interval_s=30, device_secret="the-rotated-secret"
    )
    assert _mode(state_dir / "credentials.json") == 0o600
    assert [p.name for p in state_dir.iterdir()] == ["credentials.json"]  # no temp file left

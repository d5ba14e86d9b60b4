"""Typed settings (borne/settings.py) and the controller's settings (controller/config.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from borne.settings import ImproperlyConfigured, load_settings
from controller.config import load_controller_settings


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "borne.toml"
    path.write_text(text)
    return str(path)


def test_defaults_give_sqlite_in_the_data_dir():
    settings = load_controller_settings(env={})
    assert settings.sqlalchemy_url == "sqlite:////var/lib/borne/borne.sqlite3"
    assert settings.redis_url == ""


def test_environment_overrides_the_file_which_overrides_defaults(tmp_path):
    config = write(tmp_path, "[controller]\nport = 9000\nheartbeat_interval_s = 20\n")
    settings = load_controller_settings(env={"BORNE_CONFIG": config, "BORNE_PORT": "9100"})
    assert settings.port == 9100 and settings.heartbeat_interval_s == 20


def test_plain_database_url_is_honoured_below_the_borne_spelling():
    assert load_controller_settings(
        env={"DATABASE_URL": "postgresql+psycopg://a@b/c"}
    ).database_url.endswith("/c")
    assert (
        load_controller_settings(
            env={
                "DATABASE_URL": "postgresql+psycopg://a@b/c",
                "BORNE_DATABASE_URL": "sqlite:///x.db",
            }
        ).database_url
        == "sqlite:///x.db"
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BORNE_PORT": "eighty"}, "BORNE_PORT"),
        ({"BORNE_HEARTBEAT_INTERVAL_S": "0"}, "heartbeat_interval_s"),
        ({"BORNE_ASYNC_MODE": "eventlet"}, "async_mode"),
        ({"BORNE_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"BORNE_SESSION_COOKIE_SECURE": "perhaps"}, "BORNE_SESSION_COOKIE_SECURE"),
    ],
)
def test_bad_values_fail_at_start_naming_the_setting(env, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        load_controller_settings(env=env)


def test_unknown_setting_in_the_file_is_named(tmp_path):
    config = write(tmp_path, "[controller]\nprot = 9000\n")
    with pytest.raises(ImproperlyConfigured, match="prot"):
        load_controller_settings(env={"BORNE_CONFIG": config})


def test_invalid_toml_is_reported_with_the_file(tmp_path):
    config = write(tmp_path, "[controller\nport = 1")
    with pytest.raises(ImproperlyConfigured, match="not valid TOML"):
        load_controller_settings(env={"BORNE_CONFIG": config})


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="does not exist"):
        load_controller_settings(env={"BORNE_CONFIG": str(tmp_path / "nope.toml")})


def test_generated_secret_key_is_kept_private_and_stable(tmp_path):
    from controller.config import secret_key_for

    settings = load_controller_settings(env={"BORNE_DATA_DIR": str(tmp_path)})
    first = secret_key_for(settings)
    assert secret_key_for(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_list_setting_is_a_toml_array_or_comma_separated_text(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Listed:
        names: tuple[str, ...] = ()

    config = write(tmp_path, 'names = ["a", "b"]\n')
    assert load_settings(Listed, toml_path=config).names == ("a", "b")
    assert load_settings(Listed, env={"BORNE_NAMES": " a, b,"}).names == ("a", "b")
    assert load_settings(Listed, env={"BORNE_NAMES": ""}).names == ()
    with pytest.raises(ImproperlyConfigured, match="setting names must be text"):
        load_settings(Listed, toml_path=write(tmp_path, "names = [1]\n"))

from __future__ import annotations

from pathlib import Path

import pytest
from agent_testkit import make_credentials
from click.testing import CliRunner

from agent.cli import agent
from agent.credentials import save_credentials
from agent.protocol import DeviceKind, UpdateConfigArgs
from agent.settings import (
    AgentSettings,
    load_agent_settings,
    load_remote_settings,
    remote_settings_path,
    save_remote_settings,
    with_remote_settings,
)
from borne.settings import ImproperlyConfigured


def test_defaults_need_no_configuration() -> None:
    settings = load_agent_settings(env={})
    assert settings == AgentSettings()
    assert settings.state_dir == Path("/var/lib/borne-agent")
    assert (settings.backoff_min_s, settings.backoff_max_s) == (1.0, 60.0)
    assert settings.spool_max_events == 50_000


def test_environment_overrides_the_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "borne.toml"
    config.write_text('[agent]\nheartbeat_interval_s = 30\nstate_dir = "/srv/agent"\n')
    settings = load_agent_settings(
        config_file=config, env={"BORNE_AGENT_HEARTBEAT_INTERVAL_S": "20"}
    )
    assert settings.heartbeat_interval_s == 20
    assert settings.state_dir == Path("/srv/agent")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BORNE_AGENT_HEARTBEAT_INTERVAL_S": "often"}, "BORNE_AGENT_HEARTBEAT_INTERVAL_S"),
        ({"BORNE_AGENT_HEARTBEAT_INTERVAL_S": "0"}, "heartbeat_interval_s"),
        ({"BORNE_AGENT_BACKOFF_MAX_S": "0.5"}, "backoff_max_s"),
        ({"BORNE_AGENT_CONTROLLER_URL": "ftp://x"}, "controller_url"),
        ({"BORNE_AGENT_SPOOL_MAX_EVENTS": "3"}, "spool_max_events"),
        ({"BORNE_AGENT_HTTP_TIMEOUT_S": "-1"}, "http_timeout_s"),
        ({"BORNE_AGENT_ACTIONS": "real"}, "actions"),
        ({"BORNE_AGENT_WOL_BROADCAST": "everyone"}, "wol_broadcast"),
        ({"BORNE_AGENT_WOL_PORT": "70000"}, "wol_port"),
        ({"BORNE_AGENT_ROLES": "kiosk,lockers"}, "roles"),
        ({"BORNE_AGENT_ROLES": "hotspot,hotspot"}, "roles"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=named):
        load_agent_settings(env=env)


def test_unknown_setting_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "borne.toml"
    config.write_text("[agent]\nheartbeat_intervall_s = 10\n")
    with pytest.raises(ImproperlyConfigured, match="heartbeat_intervall_s"):
        load_agent_settings(config_file=config, env={})


def test_cli_fails_at_start_with_exit_status_2_naming_the_setting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        agent,
        ["run", "--state-dir", str(tmp_path)],
        env={"BORNE_AGENT_BACKOFF_MIN_S": "soon"},
    )
    assert result.exit_code == 2
    assert "BORNE_AGENT_BACKOFF_MIN_S" in result.output


def test_actions_default_to_the_real_system_and_accept_simulated() -> None:
    assert load_agent_settings(env={}).actions == "system"
    assert load_agent_settings(env={"BORNE_AGENT_ACTIONS": "simulated"}).actions == "simulated"


def test_remote_settings_merge_and_override_the_local_ones(tmp_path: Path) -> None:
    save_remote_settings(tmp_path, UpdateConfigArgs(heartbeat_interval_s=30))
    save_remote_settings(tmp_path, UpdateConfigArgs(device_name="Borne gare"))
    remote = load_remote_settings(tmp_path)
    assert remote == UpdateConfigArgs(heartbeat_interval_s=30, device_name="Borne gare")
    local = load_agent_settings(env={"BORNE_AGENT_HEARTBEAT_INTERVAL_S": "20"})
    merged = with_remote_settings(local, remote)
    assert (merged.heartbeat_interval_s, merged.device_name) == (30, "Borne gare")
    assert merged.inventory_interval_s == local.inventory_interval_s  # not set remotely


def test_damaged_remote_settings_are_ignored_not_fatal(tmp_path: Path) -> None:
    remote_settings_path(tmp_path).write_text('{"heartbeat_interval_s": 0}')
    assert load_remote_settings(tmp_path) == UpdateConfigArgs()


def test_a_device_runs_the_role_of_its_kind_unless_told_several() -> None:
    assert load_agent_settings(env={}).roles_of(DeviceKind.KIOSK) == (DeviceKind.KIOSK,)
    several = load_agent_settings(env={"BORNE_AGENT_ROLES": "kiosk, hotspot"})
    assert several.roles_of(DeviceKind.KIOSK) == (DeviceKind.KIOSK, DeviceKind.HOTSPOT)


def test_roles_come_from_a_toml_list_and_an_unknown_one_is_named(tmp_path: Path) -> None:
    config = tmp_path / "borne.toml"
    config.write_text('[agent]\nroles = ["kiosk", "hotspot"]\n')
    assert load_agent_settings(config_file=config, env={}).roles == ("kiosk", "hotspot")

    config.write_text('[agent]\nroles = ["kiosk", "lockers"]\n')
    with pytest.raises(ImproperlyConfigured, match=r"setting roles .*'lockers'"):
        load_agent_settings(config_file=config, env={})
    config.write_text('[agent]\nroles = "kiosk"\n')
    with pytest.raises(ImproperlyConfigured, match="setting roles must be a list"):
        load_agent_settings(config_file=config, env={})


def test_roles_that_leave_the_enrolled_kind_out_stop_the_agent_at_start(tmp_path: Path) -> None:
    settings = load_agent_settings(env={"BORNE_AGENT_ROLES": "hotspot"})
    with pytest.raises(ImproperlyConfigured, match=r"roles \(hotspot\) must include kiosk"):
        settings.roles_of(DeviceKind.KIOSK)

    save_credentials(tmp_path, make_credentials("http://127.0.0.1:1", kind=DeviceKind.KIOSK))
    result = CliRunner().invoke(
        agent, ["run", "--state-dir", str(tmp_path)], env={"BORNE_AGENT_ROLES": "hotspot"}
    )
    assert result.exit_code == 2
    assert "setting roles (hotspot) must include kiosk" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
        "https://borne.example",
    ],
)
def test_a_controller_on_this_machine_or_over_https_is_accepted(url: str) -> None:
    assert load_agent_settings(env={"BORNE_AGENT_CONTROLLER_URL": url}).controller_url == url


def test_plain_http_to_another_machine_is_refused_unless_allowed() -> None:
    # The device's secret travels in every request's Authorization header.
    with pytest.raises(ImproperlyConfigured, match="secret would travel in clear"):
        load_agent_settings(env={"BORNE_AGENT_CONTROLLER_URL": "http://192.0.2.10:8000"})
    allowed = load_agent_settings(
        env={
            "BORNE_AGENT_CONTROLLER_URL": "http://192.0.2.10:8000",
            "BORNE_AGENT_ALLOW_INSECURE_HTTP": "1",
        }
    )
    assert allowed.allow_insecure_http

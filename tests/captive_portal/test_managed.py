"""Settings from the controller: the file the hotspot's agent writes, read live by the portal."""

from __future__ import annotations

import os
import stat
from datetime import date

import pytest
from click.testing import CliRunner

from captive_portal.codes import code_of_the_day, display_code
from captive_portal.managed import (
    MANAGED_FILE,
    DamagedManagedSettings,
    ManagedSettings,
    ManagedSettingsWatch,
    read_managed_settings,
    with_managed_settings,
    write_managed_settings,
)
from captive_portal.views import EXTENSION
from captive_portal.vouchers import vouchers
from tests.captive_portal.portal_app import make_portal

SECRET = "a secret the controller made for this hotspot"
TUESDAY = date(2026, 11, 24)


def watch_of(portal) -> ManagedSettingsWatch:
    admission = portal.app.extensions[EXTENSION].admission
    return ManagedSettingsWatch(portal.settings, admission.reconfigure)


def test_the_file_is_root_only_and_round_trips(tmp_path):
    managed = ManagedSettings(mode="code", code_secret=SECRET, session_s=3600)

    write_managed_settings(tmp_path, managed)

    path = tmp_path / MANAGED_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the code secret
    assert read_managed_settings(tmp_path) == managed
    assert b"opening_hours" not in path.read_bytes()  # unset values leave the TOML file's


def test_no_file_means_the_toml_settings_as_they_are(tmp_path):
    portal = make_portal(tmp_path)

    assert read_managed_settings(portal.settings.state_dir) is None
    assert with_managed_settings(portal.settings) == portal.settings


def test_a_damaged_file_is_an_error_that_names_it(tmp_path):
    (tmp_path / MANAGED_FILE).write_text('{"mode": "code", "colour": "blue"}')

    with pytest.raises(DamagedManagedSettings, match=MANAGED_FILE):
        read_managed_settings(tmp_path)


def test_code_mode_from_the_controller_applies_without_a_restart(tmp_path):
    portal = make_portal(tmp_path)
    watch = watch_of(portal)
    assert watch.check()  # first look: no file, the TOML file's click mode
    assert portal.tap_connect().status_code == 303

    write_managed_settings(
        portal.settings.state_dir, ManagedSettings(mode="code", code_secret=SECRET, session_s=900)
    )
    assert watch.check()

    # Another device: the first one, online, is shown until when and nothing to type.
    page = portal.client.get("/?lang=en", environ_overrides={"REMOTE_ADDR": "10.42.0.24"})
    assert 'id="code" name="code"' in page.get_data(as_text=True)
    answer = portal.tap_connect("10.42.0.24", code=display_code(code_of_the_day(SECRET, TUESDAY)))
    assert answer.status_code == 303
    assert portal.remaining("10.42.0.24") == 900
    assert not watch.check()  # unchanged file: nothing to do


def test_opening_hours_from_the_controller_close_the_hotspot(tmp_path):
    portal = make_portal(tmp_path)  # Tuesday 10:00
    write_managed_settings(
        portal.settings.state_dir, ManagedSettings(opening_hours="Mo-Fr 14:00-18:00")
    )

    assert watch_of(portal).check()

    assert portal.tap_connect().status_code == 403
    assert "It opens again today at 2:00\u202fPM." in portal.client.get("/?lang=en").get_data(
        as_text=True
    )


def test_a_refused_value_keeps_the_settings_in_force(tmp_path, caplog):
    portal = make_portal(tmp_path)
    watch = watch_of(portal)
    watch.check()

    write_managed_settings(portal.settings.state_dir, ManagedSettings(opening_hours="Mo-Fr 25:99"))
    assert not watch.check()
    write_managed_settings(portal.settings.state_dir, ManagedSettings(mode="code"))  # no secret
    assert not watch.check()

    assert portal.tap_connect().status_code == 303  # still open, still click
    assert "not applied" in caplog.text


def test_removing_the_file_goes_back_to_the_toml_settings(tmp_path):
    portal = make_portal(tmp_path)
    watch = watch_of(portal)
    write_managed_settings(portal.settings.state_dir, ManagedSettings(mode="closed"))
    watch.check()
    assert portal.tap_connect().status_code == 403

    (portal.settings.state_dir / MANAGED_FILE).unlink()
    assert watch.check()

    assert portal.tap_connect().status_code == 303


def test_the_vouchers_command_uses_the_controllers_secret(tmp_path, monkeypatch):
    portal = make_portal(tmp_path)
    write_managed_settings(portal.settings.state_dir, ManagedSettings(code_secret=SECRET))
    monkeypatch.setenv("BORNE_PORTAL_STATE_DIR", str(portal.settings.state_dir))
    monkeypatch.setenv("BORNE_PORTAL_TIMEZONE", "Europe/Paris")

    printed = CliRunner().invoke(vouchers, ["--today"])

    assert printed.exit_code == 0, printed.output
    assert "Code of the day" in printed.output
    day = date.fromisoformat(printed.output.split()[4].rstrip(":"))
    assert display_code(code_of_the_day(SECRET, day)) in printed.output


def test_a_change_of_the_same_size_within_the_same_second_is_seen(tmp_path):
    portal = make_portal(tmp_path)
    watch = watch_of(portal)
    state_dir = portal.settings.state_dir
    write_managed_settings(state_dir, ManagedSettings(session_s=14400))
    assert watch.check()
    stamp = (state_dir / MANAGED_FILE).stat().st_mtime_ns

    write_managed_settings(state_dir, ManagedSettings(session_s=28800))
    os.utime(state_dir / MANAGED_FILE, ns=(stamp, stamp))  # as a coarse clock would leave it

    assert watch.check()
    assert portal.tap_connect().status_code == 303 and portal.remaining() == 28800

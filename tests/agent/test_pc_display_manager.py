"""Automatic login of the guest (agent/pc/display_manager.py), on a copy of /etc in a temp dir."""

from __future__ import annotations

from pathlib import Path

from agent.pc.display_manager import check_autologin, write_autologin

BORNE = "/usr/local/bin/borne"


def test_lightdm_is_configured_and_then_checks_clean(tmp_path: Path) -> None:
    (tmp_path / "etc/lightdm").mkdir(parents=True)
    (tmp_path / "etc/lightdm/lightdm.conf").write_text("[Seat:*]\ngreeter-hide-users=true\n")

    before = check_autologin("borne-guest", tmp_path)
    written = write_autologin("borne-guest", BORNE, tmp_path)
    after = check_autologin("borne-guest", tmp_path)

    assert before.display_manager == "lightdm" and not before.ok
    assert written == tmp_path / "etc/lightdm/lightdm.conf.d/50-borne-guest.conf"
    assert after.ok, after.problems
    assert f"session-setup-script={BORNE} agent pc before-login" in written.read_text()


def test_lightdm_drop_in_of_another_user_later_in_order_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "etc/lightdm").mkdir(parents=True)
    write_autologin("borne-guest", BORNE, tmp_path)
    (tmp_path / "etc/lightdm/lightdm.conf.d/90-local.conf").write_text(
        "[Seat:*]\nautologin-user=marie\n"
    )

    check = check_autologin("borne-guest", tmp_path)

    assert check.problems == ["LightDM: autologin-user is 'marie', expected 'borne-guest'"]


def test_lightdm_without_a_timeout_would_not_log_the_guest_in_again(tmp_path: Path) -> None:
    """Debian 12's LightDM logs in automatically again after a session ends only from a
    greeter with a timeout; with 0 the next resident finds a user-name prompt."""
    (tmp_path / "etc/lightdm").mkdir(parents=True)
    written = write_autologin("borne-guest", BORNE, tmp_path)
    assert "autologin-user-timeout=1\n" in written.read_text()
    (tmp_path / "etc/lightdm/lightdm.conf.d/90-local.conf").write_text(
        "[Seat:*]\nautologin-user-timeout=0\n"
    )

    check = check_autologin("borne-guest", tmp_path)

    assert len(check.problems) == 1 and "not logged in again after a reset" in check.problems[0]


def test_gdm_gets_automatic_and_timed_login_and_keeps_its_other_settings(tmp_path: Path) -> None:
    conf = tmp_path / "etc/gdm3/daemon.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[daemon]\nWaylandEnable=false\n\n[security]\n")

    assert not check_autologin("borne-guest", tmp_path).ok
    write_autologin("borne-guest", BORNE, tmp_path)

    assert check_autologin("borne-guest", tmp_path).ok
    text = conf.read_text()
    assert "WaylandEnable = false" in text and "TimedLoginDelay = 1" in text
    presession = (tmp_path / "etc/gdm3/PreSession/Default").read_text()
    assert presession.splitlines()[:2] == [
        "#!/bin/sh",
        f'"{BORNE}" agent pc before-login --user "$USER" || exit 1',
    ]


def test_no_display_manager_is_explained(tmp_path: Path) -> None:
    check = check_autologin("borne-guest", tmp_path)
    assert check.display_manager == "none" and "LightDM" in check.problems[0]
    assert write_autologin("borne-guest", BORNE, tmp_path) is None

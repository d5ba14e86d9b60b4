"""The display manager logs the guest in on its own, and again after each reset.

After a reset ends every guest process, the display manager sees the session end and starts a
fresh one in the fresh home. That needs:

* **LightDM** (Debian's Xfce, MATE, LXQt desktops): in ``[Seat:*]``, ``autologin-user=<guest>`` and
  ``autologin-user-timeout=1``. With a timeout, the greeter LightDM starts when a session ends
  logs the account in again a second later; with ``0`` (the automatic login of the seat's
  start only), Debian 12's LightDM 1.26 shows a user-name prompt after the first reset instead.
  ``borne agent pc setup`` writes ``/etc/lightdm/lightdm.conf.d/50-borne-guest.conf``.
* **GDM** (GNOME): in ``[daemon]`` of ``/etc/gdm3/daemon.conf``, ``AutomaticLoginEnable=true`` and
  ``AutomaticLogin=<guest>`` for the first login, and, because GDM logs in automatically only once
  per start, ``TimedLoginEnable=true``, ``TimedLogin=<guest>`` and ``TimedLoginDelay=1`` so it logs
  the guest in again one second after each reset.

Before each login, the display manager also runs ``borne agent pc before-login`` as root
(:mod:`agent.pc.fresh_home`): LightDM's ``session-setup-script``, GDM's ``PreSession/Default``.
It lets the guest in only to a fresh home, and a failure refuses the login.

A locked guest (a wipe left something, :mod:`agent.pc.login`) is refused by PAM at that automatic
login: the screen then stays on the greeter, and nobody sees the last resident's data.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

LIGHTDM_DIR = Path("etc/lightdm")
LIGHTDM_DROP_IN = LIGHTDM_DIR / "lightdm.conf.d" / "50-borne-guest.conf"
GDM_CONF = Path("etc/gdm3/daemon.conf")
GDM_PRESESSION = Path("etc/gdm3/PreSession/Default")
BEFORE_LOGIN = "agent pc before-login"
AUTOLOGIN_TIMEOUT_MAX_S = 5  # longer, the next resident waits in front of a login box


@dataclass(frozen=True)
class AutologinCheck:
    display_manager: str  # "lightdm", "gdm" or "none"
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_autologin(guest: str, root: Path = Path("/")) -> AutologinCheck:
    """Whether the installed display manager logs ``guest`` in automatically, again and again."""
    if (root / LIGHTDM_DIR).is_dir():
        seat = _lightdm_seat(root)
        problems = []
        if seat.get("autologin-user") != guest:
            problems.append(
                f"LightDM: autologin-user is {seat.get('autologin-user')!r}, expected {guest!r}"
            )
        timeout = seat.get("autologin-user-timeout", "0").strip()
        if not timeout.isdigit() or not 1 <= int(timeout) <= AUTOLOGIN_TIMEOUT_MAX_S:
            problems.append(
                "LightDM: autologin-user-timeout must be a few seconds (1): with 0 the guest is "
                "not logged in again after a reset"
            )
        if not seat.get("session-setup-script", "").endswith(BEFORE_LOGIN):
            problems.append(f"LightDM: session-setup-script must run borne {BEFORE_LOGIN}")
        return AutologinCheck("lightdm", problems)
    if (root / GDM_CONF).is_file():
        daemon = _read_ini(root / GDM_CONF).get("daemon", {})
        wanted = {
            "automaticloginenable": "true",
            "automaticlogin": guest,
            "timedloginenable": "true",
            "timedlogin": guest,
        }
        problems = [
            f"GDM: [daemon] {key} is {daemon.get(key)!r}, expected {value!r}"
            for key, value in wanted.items()
            if (daemon.get(key) or "").lower() != value.lower()
        ]
        presession = root / GDM_PRESESSION
        if not presession.is_file() or BEFORE_LOGIN not in presession.read_text(errors="replace"):
            problems.append(f"GDM: {GDM_PRESESSION} must run borne {BEFORE_LOGIN}")
        return AutologinCheck("gdm", problems)
    return AutologinCheck(
        "none",
        ["no LightDM or GDM found: install one (LightDM is the lighter) and run setup again"],
    )


def write_autologin(guest: str, borne: str, root: Path = Path("/")) -> Path | None:
    """Configure the installed display manager for ``guest``; returns the file written.

    ``borne`` is the absolute path of the ``borne`` program the display manager runs.
    """
    if (root / LIGHTDM_DIR).is_dir():
        target = root / LIGHTDM_DROP_IN
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            "# Written by borne agent pc setup: the public session logs in on its own, and\n"
            "# only ever to a fresh home (LightDM passes the account as $USER).\n"
            f"[Seat:*]\nautologin-user={guest}\nautologin-user-timeout=1\n"
            f"session-setup-script={borne} {BEFORE_LOGIN}\n",
            encoding="utf-8",
        )
        return target
    if (root / GDM_CONF).is_file():
        path = root / GDM_CONF
        config = configparser.ConfigParser(interpolation=None)
        config.optionxform = str  # type: ignore[assignment,method-assign]
        config.read(path, encoding="utf-8")
        if not config.has_section("daemon"):
            config.add_section("daemon")
        for key, value in {
            "AutomaticLoginEnable": "true",
            "AutomaticLogin": guest,
            "TimedLoginEnable": "true",
            "TimedLogin": guest,
            "TimedLoginDelay": "1",
        }.items():
            config.set("daemon", key, value)
        with path.open("w", encoding="utf-8") as fh:
            config.write(fh)
        _add_gdm_presession(root / GDM_PRESESSION, borne)
        return path
    return None


def _add_gdm_presession(script: Path, borne: str) -> None:
    """Run the check first in GDM's PreSession script (a failure there aborts the login)."""
    text = script.read_text(encoding="utf-8") if script.is_file() else "#!/bin/sh\n"
    if BEFORE_LOGIN in text:
        return
    first, _, rest = text.partition("\n")
    if not first.startswith("#!"):
        first, rest = "#!/bin/sh", text
    line = f'"{borne}" {BEFORE_LOGIN} --user "$USER" || exit 1'
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"{first}\n{line}\n{rest}", encoding="utf-8")
    script.chmod(0o755)


def _lightdm_seat(root: Path) -> dict[str, str]:
    """``[Seat:*]`` as LightDM sees it: the main file, then the drop-ins in name order."""
    files = [root / LIGHTDM_DIR / "lightdm.conf"]
    files += sorted((root / LIGHTDM_DIR / "lightdm.conf.d").glob("*.conf"))
    seat: dict[str, str] = {}
    for path in files:
        if path.is_file():
            seat.update(_read_ini(path).get("Seat:*", {}))
    return seat


def _read_ini(path: Path) -> dict[str, dict[str, str]]:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        config.read(path, encoding="utf-8")
    except configparser.Error:
        return {}
    return {section: dict(config[section]) for section in config.sections()}

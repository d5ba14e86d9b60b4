"""``borne agent …``: enrol this device, run the agent.

Only this module reads ``os.environ`` (and hands it to the settings loader). The daemon and the
Socket.IO client are imported only by ``run``, so ``enrol`` and ``--help`` stay quick.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from agent.protocol import DeviceKind
from borne.settings import ImproperlyConfigured


class ConfigurationError(click.ClickException):
    """Bad settings: exit status 2, like a usage error."""

    exit_code = 2


def _settings(config: Path | None, **overrides: Any) -> Any:
    from agent.settings import load_agent_settings

    try:
        return load_agent_settings(config_file=config, env=os.environ, overrides=overrides)
    except ImproperlyConfigured as exc:
        raise ConfigurationError(str(exc)) from exc


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


_config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file whose [agent] table holds settings (BORNE_AGENT_* variables override it).",
)
_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where credentials and the spool live (default /var/lib/borne-agent).",
)
_verbose_option = click.option("--verbose", "-v", is_flag=True, help="Log debug details.")


@click.group()
def agent() -> None:
    """Run a device's agent: enrol it, run it; reset and set up a public PC."""


@agent.command()
@click.option("--controller", "controller_url", required=True, help="The controller's base URL.")
@click.option("--token", required=True, help="The one-time enrolment token from the controller.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in DeviceKind]),
    default=DeviceKind.PC.value,
    show_default=True,
    help="What this device is.",
)
@click.option("--force", is_flag=True, help="Replace existing credentials.")
@_state_dir_option
@_config_option
@_verbose_option
def enrol(
    controller_url: str,
    token: str,
    kind: str,
    force: bool,
    state_dir: Path | None,
    config: Path | None,
    verbose: bool,
) -> None:
    """Trade an enrolment token for this device's id and secret."""
    from agent.credentials import (
        Credentials,
        CredentialsError,
        credentials_path,
        save_credentials,
    )
    from agent.daemon import agent_version
    from agent.enrolment import EnrolmentError
    from agent.enrolment import enrol as enrol_device
    from agent.inventory import InventoryCollector

    _setup_logging(verbose)
    settings = _settings(config, controller_url=controller_url, state_dir=state_dir)
    path = credentials_path(settings.state_dir)
    if path.exists() and not force:
        raise click.ClickException(
            f"{path} already exists: this device is enrolled. Use --force to enrol it again."
        )
    inventory = InventoryCollector(
        agent_version=agent_version(), name=settings.device_name
    ).collect()
    try:
        answer = enrol_device(
            settings.controller_url,
            token,
            DeviceKind(kind),
            inventory,
            timeout_s=settings.http_timeout_s,
        )
    except EnrolmentError as exc:
        raise click.ClickException(f"enrolment failed: {exc}") from exc
    credentials = Credentials(
        device_id=answer.device_id,
        device_secret=answer.device_secret,
        site_id=answer.site_id,
        kind=answer.kind,
        controller_url=settings.controller_url,
        heartbeat_interval_s=answer.heartbeat_interval_s,
    )
    try:
        written = save_credentials(settings.state_dir, credentials, force=force)
        if answer.remote_settings is not None:
            from agent.settings import save_remote_settings

            save_remote_settings(settings.state_dir, answer.remote_settings)
    except (CredentialsError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"enrolled as device {answer.device_id} ({answer.kind}) of site {answer.site_id}; "
        f"credentials in {written}"
    )


@agent.command()
@_state_dir_option
@_config_option
@_verbose_option
def run(state_dir: Path | None, config: Path | None, verbose: bool) -> None:
    """Run the agent until stopped (SIGTERM or SIGINT)."""
    from agent.credentials import CredentialsError, load_credentials

    _setup_logging(verbose)
    settings = _settings(config, state_dir=state_dir)
    try:
        credentials = load_credentials(settings.state_dir)
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from exc
    if not (settings.controller_url or credentials.controller_url):
        raise ConfigurationError("setting controller_url is empty and credentials name none")
    from agent.settings import check_controller_url

    try:  # the address enrolment stored, too: it may predate the rule
        check_controller_url(
            settings.controller_url or credentials.controller_url, settings.allow_insecure_http
        )
    except ImproperlyConfigured as exc:
        raise ConfigurationError(str(exc)) from exc
    try:
        settings.roles_of(credentials.kind)
    except ImproperlyConfigured as exc:
        raise ConfigurationError(str(exc)) from exc
    _keep_server_backends_out()
    from agent.daemon import run as run_agent

    sys.exit(run_agent(settings, credentials))


@agent.command()
@_state_dir_option
@_config_option
@_verbose_option
def reset(state_dir: Path | None, config: Path | None, verbose: bool) -> None:
    """Reset this public PC for the next resident now, and wait for the wipe to finish.

    The same reset a mediator's "Reset now" runs: the guest's processes end, a fresh home is
    swapped in, and everything the resident left is deleted and checked. The report is printed,
    and queued for the controller when this PC is enrolled. Exit status 1 if anything was left
    (the guest login is then locked).
    """
    from agent.pc.guest import GuestRefused
    from agent.pc.public_pc import local_reset, mark_reset
    from agent.protocol import SessionEnd

    _setup_logging(verbose)
    settings = _settings(config, state_dir=state_dir)
    try:
        _, resetter = local_reset(settings, SessionEnd.LOCAL)
    except GuestRefused as exc:
        raise click.ClickException(f"reset refused: {exc}") from exc
    outcome = resetter.reset_and_wait()
    mark_reset(Path(settings.state_dir))
    click.echo(outcome.output)
    if not outcome.ok:
        sys.exit(1)


@agent.group()
def pc() -> None:
    """Set up and check a public PC: its guest account and automatic login."""


@pc.command()
@_config_option
def setup(config: Path | None) -> None:
    """Create the guest account and its skeleton, and configure automatic login."""
    import shutil
    import subprocess

    from agent.pc.display_manager import check_autologin, write_autologin
    from agent.pc.guest import GuestRefused, resolve_guest
    from agent.pc.lockdown import check_lockdown, write_lockdown

    settings = _settings(config)
    name = settings.guest_user
    try:
        resolve_guest(name)
        click.echo(f"guest account {name!r} already exists")
    except GuestRefused:
        import pwd

        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
                 "--comment", "Public session", name],
                check=True,
            )  # fmt: skip
            click.echo(f"created the guest account {name!r}")
        resolve_guest(name)  # refuses (and says why) an existing staff or system account
    skeleton = Path(settings.guest_skeleton)
    if not skeleton.exists():
        shutil.copytree("/etc/skel", skeleton, symlinks=True)
        click.echo(f"created the guest's skeleton {skeleton} from /etc/skel: customise it there")
    for done in write_lockdown(name):
        click.echo(f"lockdown: {done}")
    # Paired now, before any resident: the staff's keyboard and mouse, kept by every reset.
    from agent.pc import bluetooth

    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    kept = bluetooth.record_staff_devices(state_dir / bluetooth.STAFF_DEVICES)
    click.echo(
        f"bluetooth: {kept} paired device(s) recorded as the staff's; any other pairing "
        "goes at each reset (run setup again after pairing a staff device)"
    )
    borne = shutil.which("borne") or str(Path(sys.argv[0]).resolve())
    written = write_autologin(name, borne)
    if written:
        click.echo(f"automatic login configured in {written}")
    problems = check_autologin(name).problems + check_lockdown(name)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        sys.exit(1)


@pc.command("before-login")
@click.option(
    "--user",
    "user",
    envvar="USER",
    default="",
    help="Who is logging in (LightDM passes it as $USER); other accounts pass untouched.",
)
@_config_option
def before_login(user: str, config: Path | None) -> None:
    """Run by the display manager (as root) before each login: the guest only ever logs in to
    a fresh home; a used one is reset first. Exit status 1 refuses the login."""
    from agent.pc.fresh_home import before_login as check_home
    from agent.pc.guest import GuestRefused
    from agent.pc.public_pc import local_reset, mark_reset
    from agent.protocol import SessionEnd

    settings = _settings(config)
    if user != settings.guest_user:
        return  # staff logging in on the PC: not the guest's business
    state = Path(settings.state_dir)
    try:
        guest, resetter = local_reset(settings, SessionEnd.LOGOUT)
    except GuestRefused as exc:
        raise click.ClickException(f"login refused: {exc}") from exc
    outcome = check_home(state, guest, resetter.reset)
    click.echo(outcome.output, err=True)
    if not outcome.ok:
        sys.exit(1)
    if resetter.wait(0):
        return
    # The agent did not reset in time (not running?): this process did, and finishes the
    # deletion before leaving; the login waits for it this once.
    resetter.wait(None)
    mark_reset(state)


@pc.command()
@_config_option
def status(config: Path | None) -> None:
    """Say whether residents may log in, and how the last wipe went."""
    import json

    from agent.pc.guest import GuestRefused, resolve_guest
    from agent.pc.login import AccountExpiryLogin
    from agent.pc.report import printable_path
    from agent.pc.reset import LAST_REPORT

    settings = _settings(config)
    state = Path(settings.state_dir)
    try:
        guest = resolve_guest(settings.guest_user)
    except GuestRefused as exc:
        raise click.ClickException(str(exc)) from exc
    reason = AccountExpiryLogin(guest, state).locked_reason()
    click.echo(f"guest login: {'LOCKED, ' + reason if reason else 'open'}")
    try:
        last = json.loads((state / LAST_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        click.echo("last wipe: none recorded on this PC")
        return
    click.echo(
        f"last wipe: ready in {last['ready_ms']} ms, data gone in {last['wipe_ms']} ms, "
        f"{last['removed_files']} entries removed"
    )
    for left in last.get("leftovers", []):
        click.echo(f"  LEFT [{left['area']}] {printable_path(left['path'])}: {left['reason']}")


@pc.command()
@_config_option
def check(config: Path | None) -> None:
    """Say whether this PC is ready to serve residents (exit status 1 if not)."""
    from agent.pc.display_manager import check_autologin
    from agent.pc.guest import GuestRefused, resolve_guest
    from agent.pc.lockdown import check_lockdown
    from agent.pc.login import AccountExpiryLogin

    settings = _settings(config)
    problems = []
    try:
        guest = resolve_guest(settings.guest_user)
    except GuestRefused as exc:
        problems.append(str(exc))
    else:
        reason = AccountExpiryLogin(guest, Path(settings.state_dir)).locked_reason()
        if reason:
            problems.append(f"the guest login is locked: {reason}")
    if not Path(settings.guest_skeleton).is_dir():
        problems.append(f"the guest's skeleton {settings.guest_skeleton} does not exist")
    problems += check_autologin(settings.guest_user).problems
    problems += check_lockdown(settings.guest_user)
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        sys.exit(1)
    click.echo("ready: the guest logs in on its own and is reset after each session")


def _keep_server_backends_out() -> None:
    """Stop ``import socketio`` from loading server-side message-queue clients.

    python-socketio's package imports its Redis manager, which imports ``redis`` when that is
    installed. A device's agent-only install has no redis, but a developer's or the controller's
    environment does, and it costs the agent about 8 MB of RSS for code it never runs. Marking it
    absent (in this process only; ``run`` never needs it) keeps the footprint the same everywhere.
    """
    for name in ("redis",):
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]

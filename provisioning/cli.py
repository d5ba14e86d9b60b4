"""``borne provision …``: bring PCs into service over SSH, one host or a CSV of them.

Runs on an admin's machine. The controller is reached over its API with the admin's personal
token, read from ``BORNE_API_TOKEN`` (an option would leave it in the shell's history and in
``ps``). Only this module reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agent.protocol import DeviceKind
from provisioning.errors import ProvisioningError

KINDS = click.Choice([kind.value for kind in DeviceKind])


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "borne"


def _trust(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith("SHA256:"):
        raise click.BadParameter(f"give the SHA256:… fingerprint the host showed, got {value!r}")
    return value


def _settings(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in value:
        key, sign, setting = item.partition("=")
        if not sign or not key.strip():
            raise click.BadParameter(f"write KEY=VALUE (actions=simulated), got {item!r}")
        pairs[key.strip()] = setting.strip()
    return pairs


def _shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--controller",
            "controller_url",
            envvar="BORNE_CONTROLLER_URL",
            required=True,
            help="The controller's address, as the hosts will reach it (BORNE_CONTROLLER_URL).",
        ),
        click.option(
            "--known-hosts",
            type=click.Path(dir_okay=False, path_type=Path),
            default=lambda: Path.home() / ".ssh" / "known_hosts",
            show_default="~/.ssh/known_hosts",
            help="Where hosts' keys are pinned; --trust-host adds to it.",
        ),
        click.option(
            "--set",
            "agent_settings",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_settings,
            help="An agent setting for agent.toml (repeatable), e.g. --set device_name=pc-12.",
        ),
        click.option(
            "--no-systemd",
            is_flag=True,
            help="Install the unit but never run systemctl (automatic when the host has no "
            "systemd as PID 1).",
        ),
        click.option(
            "--prefix",
            default="",
            help="Install below this folder of the host instead of / (staging, tests).",
        ),
        click.option(
            "--agent-wheel",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="The agent's wheel, when borne is not run from its source tree.",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=_default_cache_dir,
            show_default="~/.cache/borne",
            help="Where wheelhouses are kept between runs.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
def provision() -> None:
    """Bring PCs into service over SSH: install the agent, configure, enrol.

    The controller is reached with your API token, read from BORNE_API_TOKEN.
    """


@provision.command()
@click.option("--host", required=True, help="The PC's address or host name.")
@click.option("--port", type=click.IntRange(1, 65535), default=22, show_default=True)
@click.option("--user", default="root", show_default=True, help="root, or a user with sudo.")
@click.option("--site", required=True, help="The site's id or slug (as on its page).")
@click.option("--kind", type=KINDS, default=DeviceKind.PC.value, show_default=True)
@click.option(
    "--identity",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Private key to sign in with (default: ssh-agent, then ~/.ssh's keys).",
)
@click.option(
    "--trust-host",
    callback=_trust,
    metavar="SHA256:…",
    help="Pin this host key (the fingerprint a first run printed) in known_hosts.",
)
@_shared_options
def bootstrap(
    host: str,
    port: int,
    user: str,
    site: str,
    kind: str,
    identity: Path | None,
    trust_host: str | None,
    **shared: Any,
) -> None:
    """Install, configure, enrol and start the agent on one host.

    Run it again at will: what is already as asked is left alone ("unchanged"). On failure
    the host is put back as it was.
    """
    from provisioning.bootstrap import bootstrap as bootstrap_host
    from provisioning.ssh import SshHost, SshTarget

    try:
        api, plan, wheelhouses = _prepare(shared)
        plan = dataclasses.replace(plan, site_id=api.site_id(site), kind=DeviceKind(kind))
        target = SshTarget(host, port, user, identity)
        connection = SshHost.connect(target, known_hosts=shared["known_hosts"], trust=trust_host)
        try:
            report = bootstrap_host(
                connection, plan, wheelhouses=wheelhouses, controller=api, say=click.echo
            )
        finally:
            connection.close()
    except ProvisioningError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in report.notes:
        click.echo(f"{report.target}: {note}")
    click.echo(
        f"{report.target}: "
        + (f"unchanged (device {report.device_id})" if report.unchanged else "done")
    )


@provision.command()
@click.argument("hosts_csv", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--parallel", type=click.IntRange(1, 64), default=4, show_default=True,
    help="How many hosts at once.",
)  # fmt: skip
@click.option("--site", help="Site id or slug for lines without one.")
@click.option("--kind", type=KINDS, default=DeviceKind.PC.value, show_default=True)
@click.option("--user", default="root", show_default=True, help="For lines without one.")
@click.option("--port", type=click.IntRange(1, 65535), default=22, show_default=True)
@click.option(
    "--identity",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Private key for lines without one.",
)
@_shared_options
def batch(
    hosts_csv: Path,
    parallel: int,
    site: str | None,
    kind: str,
    user: str,
    port: int,
    identity: Path | None,
    **shared: Any,
) -> None:
    """Bootstrap every host of HOSTS_CSV, a few at a time.

    HOSTS_CSV has a header line naming its columns: host (required), port, user, site, kind,
    identity, trust_host; empty cells take the options' values. A bad line is reported and the
    others go on. Exit status 1 if any host failed.
    """
    from rich.console import Console

    from provisioning.batch import Defaults, HostLine, read_hosts, results_table, run_batch
    from provisioning.bootstrap import bootstrap as bootstrap_host
    from provisioning.ssh import SshHost

    console = Console()
    try:
        api, plan, wheelhouses = _prepare(shared)
        defaults = Defaults(port, user, site, DeviceKind(kind), identity)
        hosts, errors = read_hosts(hosts_csv, defaults)
        known_hosts_lock = threading.Lock()

        def bootstrap_one(line: HostLine) -> Any:
            host_plan = dataclasses.replace(plan, site_id=api.site_id(line.site), kind=line.kind)
            connection = SshHost.connect(
                line.target,
                known_hosts=shared["known_hosts"],
                trust=line.trust_host,
                lock=known_hosts_lock,
            )
            try:
                return bootstrap_host(
                    connection, host_plan, wheelhouses=wheelhouses, controller=api
                )
            finally:
                connection.close()

        results = run_batch(hosts, errors, bootstrap_one, parallel=parallel, console=console)
    except ProvisioningError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(results_table(results))
    if any(result.outcome == "failed" for result in results):
        raise SystemExit(1)


def _prepare(shared: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The controller's API, the plan every host shares, the wheelhouses: all checked before
    any host is touched."""
    from provisioning.bootstrap import AgentPlan, HostLayout, agent_settings
    from provisioning.controller_api import ControllerApi
    from provisioning.wheelhouse import Wheelhouses

    prefix = shared["prefix"].rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ProvisioningError(f"--prefix must be an absolute folder, got {prefix!r}")
    api = ControllerApi(shared["controller_url"], os.environ.get("BORNE_API_TOKEN", ""))
    settings = agent_settings(shared["controller_url"], shared["agent_settings"])
    plan = AgentPlan(
        site_id=0,  # each host's, once its site is looked up
        kind=DeviceKind.PC,
        controller_url=shared["controller_url"],
        settings=settings,
        layout=HostLayout(prefix),
        use_systemd=not shared["no_systemd"],
    )
    wheelhouses = Wheelhouses(shared["cache_dir"], agent_wheel=shared["agent_wheel"])
    return api, plan, wheelhouses

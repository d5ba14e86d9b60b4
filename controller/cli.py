"""``borne controller …``: run the controller and administer it from a shell.

Commands work on the database directly (no server needed) and record what they change in the
audit log under the actor "cli". Each domain brings its own commands (its ``cli.py``); this
module adds them to the group, in the order of the app factory's list of domains.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from controller.app import DOMAINS, load_models
from controller.command_line import Context, pass_context, redacted
from controller.config import private_data_dir
from controller.i18n import _


@click.group()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML settings file (table [controller]); default: $BORNE_CONFIG.",
)
@click.pass_context
def controller(ctx: click.Context, config_file: str | None) -> None:
    """Run and administer the controller.

    Settings come from the TOML file, then BORNE_* variables (BORNE_DATABASE_URL, or DATABASE_URL;
    BORNE_DATA_DIR; BORNE_REDIS_URL …).
    """
    ctx.obj = Context(config_file)


@controller.command()
@click.option("--host", default=None, help="Address to listen on (setting: host).")
@click.option("--port", type=int, default=None, help="Port to listen on (setting: port).")
@pass_context
def run(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web UI, the API and the agents' Socket.IO channel."""
    settings = ctx.settings  # fail here, with the setting named, rather than in the child
    host, port = host or settings.host, port or settings.port
    refusal = port_refusal(host, port)
    if refusal:
        raise click.ClickException(refusal)
    args = [sys.executable, "-m", "controller.serve"]
    if ctx.config_file:
        args += ["--config", ctx.config_file]
    args += ["--host", host, "--port", str(port)]
    # A fresh interpreter, so that gevent patches the standard library before anything else.
    os.execv(sys.executable, args)  # noqa: S606 (argument list, no shell)


def port_refusal(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (taken, not an address of this machine), or None."""
    import errno
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _(
                "port %(port)s on %(host)s is already in use: stop what listens there, "
                "or choose another port (--port)",
                port=port,
                host=host,
            )
        return _(
            "cannot listen on %(host)s:%(port)s: %(reason)s",
            host=host,
            port=port,
            reason=exc.strerror or exc,
        )
    return None


@controller.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command()
@click.option("--revision", default="head", show_default=True)
@pass_context
def upgrade(ctx: Context, revision: str) -> None:
    """Create or upgrade the tables."""
    from controller import migrate

    settings = ctx.settings
    if not settings.database_url:
        private_data_dir(settings)
    migrate.upgrade(settings.sqlalchemy_url, revision)
    click.echo(
        _(
            "database at revision %(revision)s (%(url)s)",
            revision=revision,
            url=redacted(settings.sqlalchemy_url),
        )
    )


@db.command()
@pass_context
def current(ctx: Context) -> None:
    """Print the database's revision and the newest one known."""
    from controller import migrate

    with ctx.session() as session:
        revision = migrate.current_revision(session.connection())
    click.echo(
        _(
            "current: %(revision)s; head: %(head)s",
            revision=revision or _("empty"),
            head=migrate.head_revision(),
        )
    )


def _add_domain_commands() -> None:
    load_models()  # the commands map rows of every domain
    for domain in DOMAINS:
        try:
            module = importlib.import_module(f"{domain.__name__}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"{domain.__name__}.cli":
                raise
            continue  # a domain without commands
        for group in module.groups:
            controller.add_command(group)


_add_domain_commands()

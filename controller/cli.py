"""``borne controller …``: run the controller and administer it from a shell.

Commands work on the database directly (no server needed) and record what they change in the
audit log under the actor "cli".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import click
from sqlalchemy.orm import Session

from borne.settings import ImproperlyConfigured
from controller.config import ControllerSettings, load_controller_settings

CLI_ACTOR = "cli"


class Context:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: ControllerSettings | None = None

    @property
    def settings(self) -> ControllerSettings:
        if self._settings is None:
            try:
                self._settings = load_controller_settings(config_file=self.config_file)
            except ImproperlyConfigured as exc:
                raise click.UsageError(f"configuration: {exc}") from None
        return self._settings

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A committed-at-the-end session; domain errors become a clear CLI error."""
        from controller.db import Database
        from controller.errors import DomainError

        database = Database(
            self.settings.sqlalchemy_url, sqlite_synchronous=self.settings.sqlite_synchronous
        )
        try:
            with database.session() as session:
                yield session
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        finally:
            database.dispose()


pass_context = click.make_pass_decorator(Context)


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
    args = [sys.executable, "-m", "controller.serve"]
    if ctx.config_file:
        args += ["--config", ctx.config_file]
    args += ["--host", host or settings.host, "--port", str(port or settings.port)]
    # A fresh interpreter, so that gevent patches the standard library before anything else.
    os.execv(sys.executable, args)  # noqa: S606 (argument list, no shell)


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
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.sqlalchemy_url, revision)
    click.echo(f"database at revision {revision} ({_redacted(settings.sqlalchemy_url)})")


@db.command()
@pass_context
def current(ctx: Context) -> None:
    """Print the database's revision and the newest one known."""
    from controller import migrate

    with ctx.session() as session:
        revision = migrate.current_revision(session.connection())
    click.echo(f"current: {revision or 'empty'}; head: {migrate.head_revision()}")


@controller.group()
def places() -> None:
    """Organisations and public places (sites)."""


@places.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_places(ctx: Context, csv_file: Path) -> None:
    """Create or update organisations and sites from a CSV of places."""
    from controller import places as domain

    with ctx.session() as session:
        result = domain.import_places(session, CLI_ACTOR, csv_file, timezone=ctx.settings.timezone)
    click.echo(
        f"{result.organisations_created} organisations created, "
        f"{result.sites_created} sites created, {result.sites_updated} updated"
    )
    if result.hotspots_told:
        click.echo(f"{result.hotspots_told} hotspot(s) will be sent their site's new opening hours")


@places.command("list")
@pass_context
def list_places(ctx: Context) -> None:
    """List sites: id, slug, organisation, name."""
    from sqlalchemy import select

    from controller.models import Site

    with ctx.session() as session:
        for site in session.scalars(select(Site).order_by(Site.id)):
            click.echo(f"{site.id}\t{site.slug}\t{site.organisation.name}\t{site.name}")


@controller.group()
def token() -> None:
    """Enrolment tokens."""


@token.command("create")
@click.option("--site", required=True, help="Site id or slug.")
@click.option(
    "--kind",
    type=click.Choice(["pc", "kiosk", "hotspot"]),
    default=None,
    help="Only this kind of device may use it (default: any).",
)
@click.option(
    "--ttl-hours",
    type=float,
    default=None,
    help="Validity (setting enrolment_token_ttl_hours, 24 by default).",
)
@click.option("--note", default="", help="A word for whoever reads the audit log.")
@pass_context
def create_token(
    ctx: Context, site: str, kind: str | None, ttl_hours: float | None, note: str
) -> None:
    """Make a one-time enrolment token; prints the token alone on stdout."""
    from agent.protocol import DeviceKind
    from controller import enrolment
    from controller import places as domain

    hours = ttl_hours if ttl_hours is not None else ctx.settings.enrolment_token_ttl_hours
    with ctx.session() as session:
        issued = enrolment.create_token(
            session,
            CLI_ACTOR,
            domain.find_site(session, site),
            ttl=timedelta(hours=hours),
            kind=DeviceKind(kind) if kind else None,
            note=note,
        )
        expires = issued.record.expires_at
    click.echo(issued.token)
    click.echo(f"valid once, until {expires:%Y-%m-%d %H:%M} UTC", err=True)


@controller.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "technician", "mediator", "manager"])
)
@click.option(
    "--org",
    "organisations",
    multiple=True,
    help="An organisation covered (id or name); repeatable.",
)
@click.option("--site", "sites", multiple=True, help="A site covered (id or slug); repeatable.")
@click.option("--full-name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def add_user(
    ctx: Context,
    username: str,
    role: str,
    organisations: tuple[str, ...],
    sites: tuple[str, ...],
    full_name: str,
    password_stdin: bool,
) -> None:
    """Create a staff account (asks for the password unless --password-stdin)."""
    from controller import users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.session() as session:
        created = users.create_user(
            session,
            CLI_ACTOR,
            username=username,
            password=password,
            role=role,
            full_name=full_name,
            organisations=organisations,
            sites=sites,
        )
        click.echo(f"created {created.role} {created.username}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@controller.group()
def closure() -> None:
    """Exceptional closures of a site: no wake-up on those days."""


@closure.command("add")
@click.option("--site", required=True, help="Site id or slug.")
@click.option(
    "--from",
    "starts_on",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First closed day, YYYY-MM-DD.",
)
@click.option(
    "--to",
    "ends_on",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last closed day, YYYY-MM-DD (inclusive).",
)
@click.option("--reason", default="", help="Shown to staff, e.g. 'inventaire'.")
@pass_context
def add_closure(
    ctx: Context, site: str, starts_on: datetime, ends_on: datetime, reason: str
) -> None:
    """Close a site for some days."""
    from controller import places as domain

    with ctx.session() as session:
        record = domain.add_closure(
            session,
            CLI_ACTOR,
            domain.find_site(session, site),
            starts_on.date(),
            ends_on.date(),
            reason,
        )
        click.echo(f"{record.site.name} closed from {record.starts_on} to {record.ends_on}")


@closure.command("list")
@click.option("--site", default=None, help="Site id or slug (default: all).")
@pass_context
def list_closures(ctx: Context, site: str | None) -> None:
    """List closures: site, first day, last day, reason."""
    from controller import places as domain

    with ctx.session() as session:
        found = domain.find_site(session, site) if site else None
        for record in domain.list_closures(session, found):
            click.echo(f"{record.site.slug}\t{record.starts_on}\t{record.ends_on}\t{record.reason}")


@controller.group()
def schedule() -> None:
    """What the opening hours make the PCs do."""


@schedule.command("show")
@click.option("--site", required=True, help="Site id or slug.")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@pass_context
def show_schedule(ctx: Context, site: str, days: int) -> None:
    """Planned wake-ups, shutdowns and maintenance, in the sites' local time."""
    from zoneinfo import ZoneInfo

    from controller import places as domain
    from controller.models import utcnow
    from controller.scheduler import site_plan
    from controller.schedules import SchedulePolicy

    policy = SchedulePolicy(timezone=ctx.settings.timezone)
    zone = ZoneInfo(ctx.settings.timezone)
    with ctx.session() as session:
        found = domain.find_site(session, site)
        start = utcnow()
        actions = site_plan(session, found, start, start + timedelta(days=days), policy)
        click.echo(f"{found.name}: {found.opening_hours or 'no opening hours'}")
        for action in actions:
            click.echo(
                f"{action.at.astimezone(zone):%a %Y-%m-%d %H:%M}\t{action.action.value}\t"
                f"{action.reason}"
            )


@controller.group()
def command() -> None:
    """Send commands to devices and follow them."""


@command.command("send")
@click.argument("name")
@click.option("--device", "devices", multiple=True, help="Device id; repeatable.")
@click.option("--site", default=None, help="Every fitting device of this site (id or slug).")
@click.option(
    "--arg",
    "args",
    multiple=True,
    metavar="KEY=VALUE",
    help="A command argument (JSON value or text); repeatable.",
)
@pass_context
def send_command(
    ctx: Context, name: str, devices: tuple[str, ...], site: str | None, args: tuple[str, ...]
) -> None:
    """Store a command; running controllers deliver it within seconds. Prints its ids."""
    import json

    from controller import commands
    from controller import places as domain

    parsed: dict[str, object] = {}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--arg")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    with ctx.session() as session:
        site_id = domain.find_site(session, site).id if site else None
        issued = commands.issue(
            session,
            CLI_ACTOR,
            commands.parse_name(name),
            device_ids=list(devices),
            site_id=site_id,
            args=parsed,
        )
        for item in issued:
            click.echo(f"{item.id}\t{item.device.name}\t{item.state}")


@command.command("list")
@click.option("--device", default=None, help="Only this device's commands.")
@click.option("--site", default=None, help="Only this site's commands (id or slug).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@pass_context
def list_commands(ctx: Context, device: str | None, site: str | None, limit: int) -> None:
    """Recent commands, newest first: id, device, command, state, who asked, output."""
    from sqlalchemy import select

    from controller import places as domain
    from controller.models import Command

    with ctx.session() as session:
        query = select(Command).order_by(Command.created_at.desc()).limit(limit)
        if device:
            query = query.where(Command.device_id == device)
        if site:
            query = query.where(Command.site_id == domain.find_site(session, site).id)
        for item in session.scalars(query):
            output = item.output.strip().splitlines()[-1] if item.output.strip() else ""
            click.echo(
                f"{item.id}\t{item.device.name}\t{item.name}\t{item.state}\t"
                f"{item.requested_by}\t{item.created_at:%Y-%m-%d %H:%M:%S}\t{output}"
            )

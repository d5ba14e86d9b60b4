"""``borne controller command …``: send commands to devices and follow them."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.commands import service as commands
from controller.commands.models import Command
from controller.i18n import _
from controller.places import service as domain


@click.group()
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

    parsed: dict[str, object] = {}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(_("%(item)r is not KEY=VALUE", item=item), param_hint="--arg")
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


groups = [command]

"""``borne controller places|closure|schedule …``: public places, their closures, their schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.db import utcnow
from controller.places import open_data
from controller.places import service as domain
from controller.places.models import Site
from controller.places.opening_hours import SchedulePolicy
from controller.places.schedule import site_plan


@click.group()
def places() -> None:
    """Organisations and public places (sites)."""


@places.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_places(ctx: Context, csv_file: Path) -> None:
    """Create or update organisations and sites from a CSV of places."""
    with ctx.session() as session:
        result = open_data.import_places(
            session, CLI_ACTOR, csv_file, timezone=ctx.settings.timezone
        )
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

    with ctx.session() as session:
        for site in session.scalars(select(Site).order_by(Site.id)):
            click.echo(f"{site.id}\t{site.slug}\t{site.organisation.name}\t{site.name}")


@click.group()
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
    with ctx.session() as session:
        found = domain.find_site(session, site) if site else None
        for record in domain.list_closures(session, found):
            click.echo(f"{record.site.slug}\t{record.starts_on}\t{record.ends_on}\t{record.reason}")


@click.group()
def schedule() -> None:
    """What the opening hours make the PCs do."""


@schedule.command("show")
@click.option("--site", required=True, help="Site id or slug.")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@pass_context
def show_schedule(ctx: Context, site: str, days: int) -> None:
    """Planned wake-ups, shutdowns and maintenance, in the sites' local time."""

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


groups = [places, closure, schedule]

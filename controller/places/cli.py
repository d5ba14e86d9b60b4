"""``borne controller places|closure|schedule …``: public places, their closures, their schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from babel.dates import format_datetime
from sqlalchemy import select

from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.db import utcnow
from controller.i18n import _, ngettext, terminal_language
from controller.places import open_data
from controller.places import service as domain
from controller.places.models import Site
from controller.places.opening_hours import ScheduledAction, SchedulePolicy
from controller.places.schedule import site_plan


@click.group()
def places() -> None:
    """Organisations and public places (sites)."""


@places.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--organisation",
    default="",
    help="Organisation of the places that name none (a file of the national schema has no "
    "organisation column; its structure_parente is used where given).",
)
@pass_context
def import_places(ctx: Context, csv_file: Path, organisation: str) -> None:
    """Create or update organisations and sites from a CSV of places: borne's demo format or
    the national schema of digital-mediation places (standard-mediation-num)."""
    with ctx.session() as session:
        result = open_data.import_places(
            session,
            CLI_ACTOR,
            csv_file,
            timezone=ctx.settings.timezone,
            organisation=organisation,
        )
    for warning in result.warnings:
        click.echo(_("warning: %(warning)s", warning=warning), err=True)
    click.echo(
        _(
            "organisations created: %(organisations)s; sites created: %(created)s, updated: "
            "%(updated)s",
            organisations=result.organisations_created,
            created=result.sites_created,
            updated=result.sites_updated,
        )
    )
    if result.hotspots_told:
        click.echo(
            ngettext(
                "%(num)d hotspot will be sent its site's new opening hours",
                "%(num)d hotspots will be sent their site's new opening hours",
                result.hotspots_told,
            )
        )


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
        click.echo(
            _(
                "%(site)s closed from %(first)s to %(last)s",
                site=record.site.name,
                first=record.starts_on,
                last=record.ends_on,
            )
        )


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
        click.echo(f"{found.name}: {found.opening_hours or _('no opening hours')}")
        words = {
            ScheduledAction.WAKE: _("wake"),
            ScheduledAction.SHUTDOWN: _("shutdown"),
            ScheduledAction.MAINTENANCE: _("maintenance"),
        }
        for action in actions:
            when = format_datetime(
                action.at, "EEE yyyy-MM-dd HH:mm", tzinfo=zone, locale=terminal_language()
            )
            click.echo(f"{when}\t{words[action.action]}\t{action.reason}")


groups = [places, closure, schedule]

"""``borne controller statistics …``: rebuilding the rollups from the raw rows."""

from __future__ import annotations

from datetime import datetime

import click

from controller.command_line import Context, pass_context
from controller.i18n import _
from controller.places.opening_hours import SchedulePolicy
from controller.statistics import rollups


@click.group()
def statistics() -> None:
    """Usage statistics: the hourly rollups the managers' dashboard reads."""


@statistics.command("rebuild")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Rebuild from this day (YYYY-MM-DD, the city's time); default: from the start.",
)
@pass_context
def rebuild(ctx: Context, since: datetime | None) -> None:
    """Recompute the rollups from the raw rows: sessions, phones charged, wifi connections and
    the public PCs' opening hours (for data from before the statistics, or after a repair).
    Availability, sampled as it happens, stays as it was."""
    timezone = ctx.settings.timezone
    with ctx.session() as session:
        done = rollups.rebuild(
            session,
            rollups.LocalTime.of(timezone),
            SchedulePolicy(timezone=timezone),
            since.date() if since is not None else None,
        )
    click.echo(
        _(
            "rollups rebuilt %(since)s: %(sessions)d sessions, %(phones)d phones charged, "
            "%(hours)d hours of wifi",
            since=_("since %(day)s", day=since.date().isoformat())
            if since
            else _("from the start"),
            sessions=done.pc_sessions,
            phones=done.charging_sessions,
            hours=done.wifi_hours,
        )
    )


groups = [statistics]

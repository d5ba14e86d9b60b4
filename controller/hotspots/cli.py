"""``borne controller hotspot …``: the city's address plan of hotspot client networks."""

from __future__ import annotations

import click

from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.i18n import _


@click.group()
def hotspot() -> None:
    """Wifi hotspots: each one's client network in the city's address plan."""


@hotspot.command("plan")
@pass_context
def plan(ctx: Context) -> None:
    """Give every hotspot without one a client network, then print the plan."""
    from controller.hotspots import address_plan

    settings = ctx.settings
    city_plan = address_plan.AddressPlan.from_settings(
        settings.hotspot_supernet, settings.hotspot_subnet_prefixlen
    )
    with ctx.session() as session:
        added = address_plan.allocate_missing(session, city_plan)
        table = address_plan.plan_table(session)
    click.echo(
        _(
            "range %(supernet)s, /%(prefixlen)d per hotspot; %(added)d newly given",
            supernet=settings.hotspot_supernet,
            prefixlen=settings.hotspot_subnet_prefixlen,
            added=len(added),
        )
    )
    for row in table:
        chosen = _("(chosen)") if row.chosen else ""
        click.echo(f"{row.subnet:<18}  {row.device_name}  —  {row.site_name}  {chosen}".rstrip())


@hotspot.command("subnet")
@click.argument("device")
@click.argument("subnet")
@pass_context
def subnet(ctx: Context, device: str, subnet: str) -> None:
    """Give the hotspot DEVICE (its id or name) the client network SUBNET (10.64.8.0/22)."""
    from sqlalchemy import select

    from controller.errors import NotFound
    from controller.fleet.models import Device
    from controller.hotspots import address_plan

    settings = ctx.settings
    city_plan = address_plan.AddressPlan.from_settings(
        settings.hotspot_supernet, settings.hotspot_subnet_prefixlen
    )
    with ctx.session() as session:
        found = session.get(Device, device) or session.scalar(
            select(Device).where(Device.name == device, Device.retired_at.is_(None))
        )
        if found is None:
            raise NotFound(_("no device %(device)s", device=repr(device)))
        row = address_plan.choose(session, CLI_ACTOR, found, subnet, city_plan)
        click.echo(_("%(device)s: client network %(subnet)s", device=found.name, subnet=row.subnet))


groups = [hotspot]

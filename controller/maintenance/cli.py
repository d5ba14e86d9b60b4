"""``borne controller team …``: the maintenance teams and whom they serve."""

from __future__ import annotations

import click

from controller.accounts import service as users
from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.i18n import _
from controller.maintenance import teams as service


@click.group()
def team() -> None:
    """Maintenance teams: who repairs the devices of which organisations."""


@team.command("add")
@click.argument("name")
@click.option("--email", default="", help="Where the team is told of new tickets.")
@click.option(
    "--org", "organisations", multiple=True, help="An organisation served (id or name); repeatable."
)
@click.option(
    "--kind", "kinds", multiple=True, help="Only these kinds of device (default: every kind)."
)
@pass_context
def add_team(
    ctx: Context, name: str, email: str, organisations: tuple[str, ...], kinds: tuple[str, ...]
) -> None:
    """Create a maintenance team."""
    with ctx.session() as session:
        created = service.create_team(
            session, CLI_ACTOR, name=name, email=email, organisations=organisations, kinds=kinds
        )
        click.echo(_("team %(team)s created", team=created.name))


@team.command("serve")
@click.argument("name")
@click.option("--org", "organisations", multiple=True, help="An organisation served; repeatable.")
@pass_context
def serve(ctx: Context, name: str, organisations: tuple[str, ...]) -> None:
    """Replace the organisations a team serves."""
    with ctx.session() as session:
        found = service.serve(session, CLI_ACTOR, service.find_team(session, name), organisations)
        served = ", ".join(o.name for o in found.organisations) or "-"
        click.echo(_("%(team)s serves: %(organisations)s", team=found.name, organisations=served))


@team.command("member")
@click.argument("name")
@click.argument("username")
@click.option("--remove", is_flag=True, help="Take the person out of the team.")
@pass_context
def member(ctx: Context, name: str, username: str, remove: bool) -> None:
    """Put a technician in a team (or take them out with --remove)."""
    with ctx.session() as session:
        found = service.find_team(session, name)
        person = users.find_user(session, username)
        if remove:
            service.remove_member(session, CLI_ACTOR, found, person)
            click.echo(_("%(user)s left %(team)s", user=person.username, team=found.name))
        else:
            service.add_member(session, CLI_ACTOR, found, person)
            click.echo(_("%(user)s joined %(team)s", user=person.username, team=found.name))


@team.command("list")
@pass_context
def list_teams(ctx: Context) -> None:
    """Teams: name, e-mail, kinds, organisations served, members."""
    with ctx.session() as session:
        for found in service.list_teams(session):
            click.echo(
                "\t".join(
                    [
                        found.name,
                        found.email or "-",
                        ",".join(found.kinds) or _("every kind"),
                        ", ".join(o.name for o in found.organisations) or "-",
                        ", ".join(u.username for u in found.members) or "-",
                    ]
                )
            )


groups = [team]

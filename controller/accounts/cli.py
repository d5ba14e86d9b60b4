"""``borne controller user …``: staff accounts."""

from __future__ import annotations

import sys

import click

from controller.access import Role
from controller.accounts import service as users
from controller.command_line import CLI_ACTOR, Context, pass_context


@click.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
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


def _set_active(ctx: Context, username: str, active: bool) -> None:
    with ctx.session() as session:
        found = users.set_active(session, CLI_ACTOR, users.find_user(session, username), active)
        ended = "" if active else "; their sessions have ended"
        click.echo(f"{'enabled' if active else 'disabled'} {found.username}{ended}")


@user.command("disable")
@click.argument("username")
@pass_context
def disable_user(ctx: Context, username: str) -> None:
    """Disable a staff account: it can no longer sign in, and its sessions end at once."""
    _set_active(ctx, username, False)


@user.command("enable")
@click.argument("username")
@pass_context
def enable_user(ctx: Context, username: str) -> None:
    """Enable a staff account that was disabled."""
    _set_active(ctx, username, True)


@user.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@pass_context
def reset_password(ctx: Context, username: str, password_stdin: bool) -> None:
    """Give a staff account a new password; its sessions end at once."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with ctx.session() as session:
        found = users.set_password(session, CLI_ACTOR, users.find_user(session, username), password)
        click.echo(f"new password for {found.username}; their sessions have ended")


groups = [user]

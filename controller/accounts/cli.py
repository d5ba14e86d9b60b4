"""``borne controller user …``: staff accounts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from controller.access import Role
from controller.accounts import api_tokens
from controller.accounts import service as users
from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.i18n import _

F = TypeVar("F", bound=Callable[..., Any])


def role_and_places(command: F) -> F:
    """The options that give an account its role and the places it covers."""
    options = [
        click.option("--role", required=True, type=click.Choice([r.value for r in Role])),
        click.option(
            "--org",
            "organisations",
            multiple=True,
            help="An organisation covered (id or name); repeatable.",
        ),
        click.option(
            "--site", "sites", multiple=True, help="A site covered (id or slug); repeatable."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("username")
@role_and_places
@click.option("--full-name", default="")
@click.option("--email", default="", help="Where they are told of what concerns them.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def add_user(
    ctx: Context,
    username: str,
    role: str,
    organisations: tuple[str, ...],
    sites: tuple[str, ...],
    full_name: str,
    email: str,
    password_stdin: bool,
) -> None:
    """Create a staff account (asks for the password unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
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
            email=email,
        )
        click.echo(_("created %(role)s %(user)s", role=created.role, user=created.username))


def _set_active(ctx: Context, username: str, active: bool) -> None:
    with ctx.session() as session:
        found = users.set_active(session, CLI_ACTOR, users.find_user(session, username), active)
        if active:
            click.echo(_("enabled %(user)s", user=found.username))
        else:
            click.echo(_("disabled %(user)s; their sessions have ended", user=found.username))


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


@user.command("access")
@click.argument("username")
@role_and_places
@pass_context
def set_access(
    ctx: Context, username: str, role: str, organisations: tuple[str, ...], sites: tuple[str, ...]
) -> None:
    """Give a staff account a role and the places it covers (replacing the old ones); its
    sessions end when anything changed."""
    with ctx.session() as session:
        found = users.find_user(session, username)
        changed = users.set_role_and_scopes(
            session, CLI_ACTOR, found, role=role, organisations=organisations, sites=sites
        )
        if changed:
            click.echo(
                _(
                    "%(user)s is now %(role)s; their sessions have ended",
                    user=found.username,
                    role=found.role,
                )
            )
        else:
            click.echo(
                _(
                    "%(user)s already had this role and these places: nothing changed",
                    user=found.username,
                )
            )


@user.command("email")
@click.argument("username")
@click.argument("email")
@pass_context
def set_email(ctx: Context, username: str, email: str) -> None:
    """Set where a staff account is told of what concerns them ("" for nowhere)."""
    with ctx.session() as session:
        found = users.set_email(session, CLI_ACTOR, users.find_user(session, username), email)
        click.echo(_("%(user)s: e-mail %(email)s", user=found.username, email=found.email or "-"))


@user.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@pass_context
def reset_password(ctx: Context, username: str, password_stdin: bool) -> None:
    """Give a staff account a new password; its sessions end at once."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(_("New password"), hide_input=True, confirmation_prompt=True)
    with ctx.session() as session:
        found = users.set_password(session, CLI_ACTOR, users.find_user(session, username), password)
        click.echo(_("new password for %(user)s; their sessions have ended", user=found.username))


@click.group("api-token")
def api_token() -> None:
    """Personal API tokens for scripts (sent as Authorization: Bearer)."""


@api_token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What will use the token, e.g. 'ansible inventory'.")
@click.option(
    "--days",
    type=click.IntRange(1, api_tokens.MAX_DAYS),
    default=api_tokens.DEFAULT_DAYS,
    show_default=True,
    help="How long the token works.",
)
@click.option("--read-only", is_flag=True, help="The token may read, never change anything.")
@pass_context
def create_api_token(ctx: Context, username: str, name: str, days: int, read_only: bool) -> None:
    """Make an API token acting as USERNAME; prints it once, on standard output alone."""
    with ctx.session() as session:
        owner = users.find_user(session, username)
        token, secret = api_tokens.create_token(
            session, CLI_ACTOR, owner, name=name, days=days, read_only=read_only
        )
        facts = {"id": token.id, "user": owner.username, "day": f"{token.expires_at:%Y-%m-%d}"}
        if read_only:
            told = _(
                "token %(id)s for %(user)s, read-only, until %(day)s; it is not shown again:",
                **facts,
            )
        else:
            told = _("token %(id)s for %(user)s, until %(day)s; it is not shown again:", **facts)
        click.echo(told, err=True)
        click.echo(secret)


@api_token.command("list")
@click.argument("username")
@pass_context
def list_api_tokens(ctx: Context, username: str) -> None:
    """USERNAME's API tokens: id, state, name, expiry and last use."""
    with ctx.session() as session:
        owner = users.find_user(session, username)
        for token in api_tokens.tokens_of(session, CLI_ACTOR, owner):
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else _("never")
            columns = [
                str(token.id),
                api_tokens.state(token),
                f"{token.hint}…",
                token.name,
                _("until %(day)s", day=f"{token.expires_at:%Y-%m-%d}"),
                _("last used %(when)s", when=used),
            ]
            if token.read_only:
                columns.append(_("read-only"))
            click.echo("\t".join(columns))


@api_token.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def revoke_api_token(ctx: Context, token_id: int) -> None:
    """Refuse an API token from now on."""
    with ctx.session() as session:
        token = api_tokens.revoke_token(
            session, CLI_ACTOR, api_tokens.find_token(session, token_id)
        )
        click.echo(
            _(
                "revoked token %(id)s (%(name)s) of %(user)s",
                id=token.id,
                name=token.name,
                user=token.user.username,
            )
        )


groups = [user, api_token]

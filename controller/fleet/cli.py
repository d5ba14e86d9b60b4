"""``borne controller token …`` and ``device …``: enrolment tokens; retiring a device, or
giving it a new secret."""

from __future__ import annotations

from datetime import timedelta

import click

from agent.protocol import DeviceKind
from controller.command_line import CLI_ACTOR, Context, pass_context
from controller.fleet import enrolment
from controller.fleet.models import Device
from controller.i18n import _
from controller.places import service as domain


@click.group()
def token() -> None:
    """Enrolment tokens."""


@token.command("create")
@click.option("--site", required=True, help="Site id or slug.")
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in DeviceKind]),
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
    click.echo(_("valid once, until %(when)s UTC", when=f"{expires:%Y-%m-%d %H:%M}"), err=True)
    click.echo(
        _(
            "token id %(id)s (to revoke it: borne controller token revoke %(id)s)",
            id=issued.record.id,
        ),
        err=True,
    )


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def revoke_token(ctx: Context, token_id: int) -> None:
    """Withdraw an enrolment token nobody has used yet."""
    with ctx.session() as session:
        record = enrolment.revoke_token(session, CLI_ACTOR, token_id)
        click.echo(
            _(
                "token %(id)s for %(site)s revoked: it enrols nothing now",
                id=record.id,
                site=record.site.name,
            )
        )


@click.group()
def device() -> None:
    """Devices."""


@device.command("retire")
@click.argument("device_id")
@pass_context
def retire_device(ctx: Context, device_id: str) -> None:
    """Take a device out of service for good: its secret is refused, its history kept."""
    with ctx.session() as session:
        found = session.get(Device, device_id)
        if found is None:
            raise click.ClickException(_("no device %(id)s", id=device_id))
        enrolment.retire_device(session, CLI_ACTOR, found)
        click.echo(_("%(name)s retired: its agent is refused from now on", name=found.name))


@device.command("rotate-secret")
@click.argument("device_id")
@pass_context
def rotate_secret(ctx: Context, device_id: str) -> None:
    """Give a device a new secret: its agent fetches it at its next heartbeat and keeps working
    with the old one until it uses the new one; then the old one is refused."""
    with ctx.session() as session:
        found = session.get(Device, device_id)
        if found is None:
            raise click.ClickException(_("no device %(id)s", id=device_id))
        enrolment.request_secret_rotation(session, CLI_ACTOR, found)
        click.echo(
            _(
                "%(name)s: new secret asked for; its agent takes it at its next heartbeat "
                "(the device page and the audit log say when)",
                name=found.name,
            )
        )


groups = [token, device]

"""``borne controller agent-release …``: the wheels of borne the controller serves its agents."""

from __future__ import annotations

from pathlib import Path

import click

from controller.command_line import Context, pass_context
from controller.i18n import _


@click.group("agent-release")
def agent_release() -> None:
    """Releases of borne for the agents: add a wheel, then name its version (agent_version) on
    a layer to upgrade that layer's devices."""


@agent_release.command("add")
@click.argument("wheels", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_context
def add(ctx: Context, wheels: tuple[Path, ...]) -> None:
    """Check each WHEEL (borne-<version>-py3-none-any.whl) and keep it for the agents.

    Every wheel is checked before any is kept: one refused, none is added."""
    from controller.configuration import releases
    from controller.errors import DomainError

    folder = ctx.settings.releases_dir
    try:
        checked = [releases.check(folder, wheel) for wheel in wheels]
        added = [releases.store(folder, candidate) for candidate in checked]
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(
            _("cannot keep the wheel in %(folder)s: %(problem)s", folder=folder, problem=exc)
        ) from None
    for result in added:
        release = result.release
        if result.unchanged:
            click.echo(_("borne %(version)s: unchanged (already kept)", version=release.version))
        else:
            click.echo(
                _(
                    "borne %(version)s added: %(size)d bytes, sha256 %(sha256)s",
                    version=release.version,
                    size=release.size,
                    sha256=release.sha256,
                )
            )
    click.echo(_("kept in %(folder)s", folder=folder))


@agent_release.command("list")
@pass_context
def list_(ctx: Context) -> None:
    """Print the releases kept for the agents, oldest version first."""
    from controller.configuration import releases

    folder = ctx.settings.releases_dir
    kept = releases.list_releases(folder)
    if not kept:
        click.echo(
            _(
                "no release kept in %(folder)s yet: add one with "
                "'borne controller agent-release add borne-<version>-py3-none-any.whl'",
                folder=folder,
            )
        )
        return
    for release in kept:
        added = releases.added_on(folder, release)
        click.echo(
            f"{release.version:<12}  {release.size:>10}  {release.sha256[:16]}  "
            f"{added:%Y-%m-%d %H:%M}  {release.filename}"
        )


groups = [agent_release]

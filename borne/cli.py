"""The ``borne`` command: each part's commands load only when used.

The agent is installed alone on small PCs, without the controller's libraries, so ``borne agent``
must never import the controller; a lazy group keeps each part's imports to itself.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command or group
PARTS = {
    "agent": ("agent.cli:agent", "Run a device's agent; reset and set up a public PC."),
    "controller": ("controller.cli:controller", "Run and administer the controller."),
    "demo": ("borne.demo:demo", "Run the whole system locally with simulated devices."),
    "portal": ("captive_portal.cli:portal", "Run the wifi captive portal; configure it; lab."),
    "provision": (
        "provisioning.cli:provision",
        "Bring PCs into service over SSH: one host, or a CSV of them.",
    ),
}
# The extra that brings a part's libraries, when it is not the controller's.
EXTRAS = {"provision": "provision"}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(PARTS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in PARTS:
            return None
        target, _ = PARTS[cmd_name]
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(
                f"'borne {cmd_name}' needs parts that are not installed here ({exc.name}); "
                f"install them with: pip install 'borne[{EXTRAS.get(cmd_name, 'controller')}]'"
            ) from exc
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help must not import every part: describe them from PARTS.
        with formatter.section("Commands"):
            formatter.write_dl([(name, PARTS[name][1]) for name in sorted(PARTS)])


@click.group(cls=LazyGroup)
@click.version_option(package_name="borne")
def main() -> None:
    """borne: public PCs, charging kiosks and free wifi, run by the city."""

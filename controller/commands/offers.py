"""The commands a page offers as buttons: what each sends, its words, what to ask first, and only
those the reader may send."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import LazyString

from agent.protocol import CommandName
from controller import access
from controller.access import StaffMember
from controller.commands.service import SPECS
from controller.fleet.models import Device
from controller.i18n import _, _l, ngettext
from controller.places.models import Site

# --- commands a page offers ----------------------------------------------------------------------


@dataclass(frozen=True)
class CommandChoice:
    """A command a page offers as a button: what it sends, its words, what to ask first."""

    name: CommandName
    label: str | LazyString
    confirm: str | LazyString  # asked before sending; "" to send at once
    targets: int  # how many devices it goes to


# What a site page offers, in this order, with the words for a whole site.
SITE_COMMANDS: dict[CommandName, LazyString] = {
    CommandName.RESET_SESSION: _l("Reset all PCs"),
    CommandName.LOCK_SCREEN: _l("Lock all screens"),
    CommandName.UNLOCK_SCREEN: _l("Unlock all screens"),
    CommandName.SHOW_MESSAGE: _l("Message to all screens"),
    CommandName.REBOOT: _l("Restart all"),
    CommandName.WAKE: _l("Wake all PCs"),
    CommandName.SHUTDOWN: _l("Shut down all"),
    CommandName.MAINTENANCE: _l("Install updates"),
}


def device_commands(user: StaffMember, device: Device) -> list[CommandChoice]:
    """The commands ``user`` may send to ``device``, in the order of :data:`SPECS`."""
    return [
        CommandChoice(name, spec.label, spec.confirm, 1)
        for name, spec in SPECS.items()
        if device.kind in spec.kinds and access.may_command(user, name, device.site)
    ]


def site_commands(user: StaffMember, site: Site) -> list[CommandChoice]:
    """The site-wide commands ``user`` may send to ``site``, for those its devices accept.

    Every site-wide command that interrupts residents asks first, locking included: it reaches
    everyone at the place at once.
    """
    choices = []
    for name, label in SITE_COMMANDS.items():
        spec = SPECS[name]
        targets = sum(1 for d in site.devices if d.kind in spec.kinds)
        if not targets or not access.may_command(user, name, site):
            continue
        disruptive = bool(spec.confirm) or name is CommandName.LOCK_SCREEN
        devices = ngettext("%(num)d device", "%(num)d devices", targets)
        if name is CommandName.RESET_SESSION:  # says how many residents it reaches
            confirm = ngettext(
                "Reset the %(num)d PC of %(site)s? Its session ends and everything the "
                "resident left is wiped.",
                "Reset the %(num)d PCs of %(site)s? Every session ends and everything the "
                "residents left is wiped.",
                targets,
                site=site.name,
            )
        elif disruptive:
            confirm = _(
                "%(command)s at %(site)s (%(devices)s) now?",
                command=label,
                site=site.name,
                devices=devices,
            )
        else:
            confirm = ""
        choices.append(CommandChoice(name, label, confirm, targets))
    return choices

"""``borne portal …``: run the captive portal, write the hotspot's configuration, try it in a lab.

Each command lives beside the code it drives; this group only gathers them.
"""

from __future__ import annotations

import click

from captive_portal.audio import audio
from captive_portal.lab import lab
from captive_portal.render import render
from captive_portal.server import run
from captive_portal.vouchers import tickets, vouchers


@click.group()
def portal() -> None:
    """Run the hotspot's captive portal: one tap, no email, no phone, no account."""


portal.add_command(run)
portal.add_command(render)
portal.add_command(lab)
portal.add_command(audio)
portal.add_command(vouchers)
portal.add_command(tickets)  # the first name of vouchers, hidden

"""The hotspots' forms: how residents get on the wifi."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired

from agent.protocol import PortalModeName

# A portal mode in plain words, and what it means for the resident.
PORTAL_MODES = {
    PortalModeName.CLICK: (
        "One tap",
        "Residents tap “Connect” on the welcome page: nothing to type.",
    ),
    PortalModeName.CODE: (
        "Code of the day",
        "Residents type a 6-digit code they ask for at the desk; it changes every day.",
    ),
    PortalModeName.CLOSED: ("Closed", "Nobody can connect, whatever the time."),
}


class PortalForm(FlaskForm):
    """How residents get on a hotspot's wifi; the domain checks the mode and the length."""

    # Choices are not checked here: the domain refuses an unknown mode with its own message.
    mode = RadioField(
        "How residents connect",
        choices=[SelectChoice(m.value, label) for m, (label, _) in PORTAL_MODES.items()],
        validate_choice=False,
    )
    follow_site_hours = BooleanField("Closed outside the site's opening hours")
    session_min = IntegerField(
        "Each connection lasts (minutes)",
        validators=[InputRequired(message="Give how long a connection lasts, in minutes.")],
        description="After that, the resident connects again the same way.",
    )
    submit = SubmitField("Save and send to the hotspot")

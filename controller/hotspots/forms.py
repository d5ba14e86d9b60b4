"""The hotspots' forms: how residents get on the wifi."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectChoice, SubmitField
from wtforms.validators import InputRequired

from agent.protocol import PortalModeName
from controller.i18n import _l

# A portal mode in plain words, and what it means for the resident.
PORTAL_MODES = {
    PortalModeName.CLICK: (
        _l("One tap"),
        _l("Residents tap “Connect” on the welcome page: nothing to type."),
    ),
    PortalModeName.CODE: (
        _l("Code of the day"),
        _l("Residents type a 6-digit code they ask for at the desk; it changes every day."),
    ),
    PortalModeName.CLOSED: (_l("Closed"), _l("Nobody can connect, whatever the time.")),
}


class PortalForm(FlaskForm):
    """How residents get on a hotspot's wifi; the domain checks the mode and the length."""

    # Choices are not checked here: the domain refuses an unknown mode with its own message.
    mode = RadioField(
        _l("How residents connect"),
        choices=[SelectChoice(m.value, label) for m, (label, _hint) in PORTAL_MODES.items()],
        validate_choice=False,
    )
    follow_site_hours = BooleanField(_l("Closed outside the site's opening hours"))
    session_min = IntegerField(
        _l("Each connection lasts (minutes)"),
        validators=[InputRequired(message=_l("Give how long a connection lasts, in minutes."))],
        description=_l("After that, the resident connects again the same way."),
    )
    submit = SubmitField(_l("Save and send to the hotspot"))

"""The public PCs' forms: how long residents' sessions last at a site."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SubmitField
from wtforms.validators import DataRequired, Optional


class SessionLimitsForm(FlaskForm):
    """How long residents' sessions may last on the site's public PCs."""

    idle_timeout_min = IntegerField(
        "End a session after this many minutes without use",
        validators=[DataRequired(message="Give the idle timeout in minutes.")],
        description="A warning shows one minute before; any touch of the mouse or keyboard "
        "keeps the session.",
    )
    max_session_min = IntegerField(
        "Longest session, in minutes (empty: no limit)",
        validators=[Optional()],
    )
    submit = SubmitField("Save and send to the PCs")

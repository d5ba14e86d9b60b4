"""The public PCs' forms: how long residents' sessions last at a site."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SubmitField
from wtforms.validators import DataRequired, Optional

from controller.i18n import _l


class SessionLimitsForm(FlaskForm):
    """How long residents' sessions may last on the site's public PCs."""

    idle_timeout_min = IntegerField(
        _l("End a session after this many minutes without use"),
        validators=[DataRequired(message=_l("Give the idle timeout in minutes."))],
        description=_l(
            "A warning shows one minute before; any touch of the mouse or keyboard "
            "keeps the session."
        ),
    )
    max_session_min = IntegerField(
        _l("Longest session, in minutes (empty: no limit)"),
        validators=[Optional()],
    )
    submit = SubmitField(_l("Save and send to the PCs"))

"""The fleet's forms: enrolment tokens, a device's secret."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from agent.protocol import DeviceKind
from controller.i18n import _l

KIND_LABELS = {
    DeviceKind.PC: _l("Public PC"),
    DeviceKind.KIOSK: _l("Charging kiosk"),
    DeviceKind.HOTSPOT: _l("Wifi hotspot"),
}


class TokenForm(FlaskForm):
    site = SelectField(_l("Site"), coerce=int, validators=[DataRequired()])
    kind = SelectField(
        _l("Kind of device"),
        choices=[SelectChoice("", _l("Any kind"))]
        + [SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
        default="",
    )
    validity_hours = DecimalField(
        _l("Valid for (hours)"),
        places=None,
        validators=[DataRequired()],  # the limits are the domain's (enrolment.create_token)
        render_kw={"inputmode": "decimal", "step": "any"},
    )
    note = StringField(
        _l("Note (optional)"),
        validators=[Optional(), Length(max=200)],
        description=_l("A word for the audit log, for instance which PC it is for."),
    )
    submit = SubmitField(_l("Create token"))


class RevokeTokenForm(FlaskForm):
    """The button that withdraws an unused token (its CSRF token only)."""

    submit = SubmitField(_l("Revoke"))


class RotateSecretForm(FlaskForm):
    """The button that asks a device for a new secret (its CSRF token only)."""

    submit = SubmitField(_l("Yes, give it a new secret"))

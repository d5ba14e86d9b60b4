"""The fleet's forms: enrolment tokens, a device's secret."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from agent.protocol import DeviceKind

KIND_LABELS = {
    DeviceKind.PC: "Public PC",
    DeviceKind.KIOSK: "Charging kiosk",
    DeviceKind.HOTSPOT: "Wifi hotspot",
}
# A portal mode in plain words, and what it means for the resident.


class TokenForm(FlaskForm):
    site = SelectField("Site", coerce=int, validators=[DataRequired()])
    kind = SelectField(
        "Kind of device",
        choices=[SelectChoice("", "Any kind")]
        + [SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
        default="",
    )
    validity_hours = DecimalField(
        "Valid for (hours)",
        places=None,
        validators=[DataRequired()],  # the limits are the domain's (enrolment.create_token)
        render_kw={"inputmode": "decimal", "step": "any"},
    )
    note = StringField(
        "Note (optional)",
        validators=[Optional(), Length(max=200)],
        description="A word for the audit log, for instance which PC it is for.",
    )
    submit = SubmitField("Create token")


class RevokeTokenForm(FlaskForm):
    """The button that withdraws an unused token (its CSRF token only)."""

    submit = SubmitField("Revoke")


class RotateSecretForm(FlaskForm):
    """The button that asks a device for a new secret (its CSRF token only)."""

    submit = SubmitField("Yes, give it a new secret")

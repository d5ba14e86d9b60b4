"""The fleet's forms: enrolment tokens, a device's secret, name, site and retirement, and the
fleet page's filters."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    Form,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
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
        description=_l(
            "Becomes the device's name, for instance “PC by the window”; without a note it "
            "takes its host name."
        ),
    )
    submit = SubmitField(_l("Create token"))


class RevokeTokenForm(FlaskForm):
    """The button that withdraws an unused token (its CSRF token only)."""

    submit = SubmitField(_l("Revoke"))


class RotateSecretForm(FlaskForm):
    """The button that asks a device for a new secret (its CSRF token only)."""

    submit = SubmitField(_l("Yes, give it a new secret"))


class DeviceFilterForm(Form):
    """The fleet page's search, filters and order: a GET form that works without JavaScript
    (no CSRF token: it changes nothing). Its choices are the page's to fill."""

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=100)])
    site = SelectField(_l("Site"), default="")
    kind = SelectField(_l("Kind"), default="")
    status = SelectField(_l("Status"), default="")
    concern = SelectField(_l("Alerts and locks"), default="")
    sort = SelectField(_l("Sort by"), default="name")


class RenameDeviceForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("What staff call it; the host name no longer changes it."),
    )
    submit = SubmitField(_l("Rename"))


class MoveDeviceForm(FlaskForm):
    site = SelectField(_l("New site"), coerce=int, validators=[DataRequired()])
    submit = SubmitField(_l("Move"))


class RetireDeviceForm(FlaskForm):
    """The button that retires a device for good (its CSRF token only)."""

    submit = SubmitField(_l("Yes, retire it"))

"""The form every command button posts, with the fields of the commands that take some: a
message's text, "until closing" for more time, the settings an "Update settings" changes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from agent.protocol import CommandName
from controller.i18n import _, _l


class CommandForm(FlaskForm):
    """One command for a device or a site. The buttons carry the command's name
    (``<button name="command" value="lock_screen">``); argument limits are the domain's."""

    command = StringField(_l("Command"), validators=[DataRequired(), Length(max=32)])
    text = StringField(
        _l("Message"),
        description=_l("Shown until the resident closes it, or for the seconds given."),
        render_kw={"maxlength": 500, "autocomplete": "off"},
    )
    seconds = IntegerField(
        _l("Close after (seconds)"),
        validators=[Optional()],
        render_kw={"min": 0, "max": 3600, "inputmode": "numeric"},
    )
    confirmed = HiddenField()  # set by the confirmation step of disruptive commands
    # More time for a resident: "closing" to the site's closing time, else 15 minutes more.
    until = HiddenField()
    # Update settings: only the fields filled in with a new value are sent.
    heartbeat_interval_s = IntegerField(
        _l("Heartbeat every (seconds)"),
        validators=[Optional(), NumberRange(1, 3600)],
        render_kw={"min": 1, "max": 3600, "inputmode": "numeric"},
    )
    inventory_interval_h = IntegerField(
        _l("Inventory every (hours)"),
        validators=[Optional(), NumberRange(1, 168)],
        render_kw={"min": 1, "max": 168, "inputmode": "numeric"},
    )
    device_name = StringField(
        _l("Name staff see"),
        validators=[Optional(), Length(max=64)],
        render_kw={"maxlength": 64, "autocomplete": "off"},
    )

    def validate_text(self, field: Field) -> None:
        if self.command.data == CommandName.SHOW_MESSAGE and not (field.data or "").strip():
            raise ValidationError(_("Write the message to show on the screen."))

"""The form every command button posts."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

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

    def validate_text(self, field: Field) -> None:
        if self.command.data == CommandName.SHOW_MESSAGE and not (field.data or "").strip():
            raise ValidationError(_("Write the message to show on the screen."))

"""The staff pages' forms: fields, labels and CSRF. Business rules stay in the domain modules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from controller.choices import CommandName, DeviceKind, PortalModeName, Role

KIND_LABELS = {
    DeviceKind.PC: "Public PC",
    DeviceKind.KIOSK: "Charging kiosk",
    DeviceKind.HOTSPOT: "Wifi hotspot",
}
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
ROLE_LABELS = {
    Role.ADMIN: "Admin (city IT, everything)",
    Role.TECHNICIAN: "Technician (devices)",
    Role.MEDIATOR: "Mediator (public PCs of a site)",
    Role.MANAGER: "Manager (reads, changes nothing)",
}


class CheckboxList(SelectMultipleField):
    """Several choices as a list of checkboxes: easier to use by touch and keyboard than a
    multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=80)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField("Sign in")


class LogoutForm(FlaskForm):
    submit = SubmitField("Sign out")


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


class UserForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=80)],
        description="Lowercase letters, digits, dots, dashes or underscores.",
        render_kw={"autocomplete": "off", "autocapitalize": "none"},
    )
    full_name = StringField("Full name", validators=[Optional(), Length(max=200)])
    role = SelectField(
        "Role",
        choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()],
        default=Role.MEDIATOR.value,
    )
    organisations = CheckboxList("Organisations covered", coerce=int)
    sites = CheckboxList("Sites covered", coerce=int)
    password = PasswordField(
        "Initial password",
        validators=[DataRequired(), Length(max=1000)],
        description="At least 10 characters. Give it to the person privately.",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Add user")


class CommandForm(FlaskForm):
    """One command for a device or a site. The buttons carry the command's name
    (``<button name="command" value="lock_screen">``); argument limits are the domain's."""

    command = StringField("Command", validators=[DataRequired(), Length(max=32)])
    text = StringField(
        "Message",
        description="Shown until the resident closes it, or for the seconds given.",
        render_kw={"maxlength": 500, "autocomplete": "off"},
    )
    seconds = IntegerField(
        "Close after (seconds)",
        validators=[Optional()],
        render_kw={"min": 0, "max": 3600, "inputmode": "numeric"},
    )
    confirmed = HiddenField()  # set by the confirmation step of disruptive commands

    def validate_text(self, field: Field) -> None:
        if self.command.data == CommandName.SHOW_MESSAGE and not (field.data or "").strip():
            raise ValidationError("Write the message to show on the screen.")


class AuditFilterForm(FlaskForm):
    """The audit log's filters, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    actor = StringField("Who", validators=[Optional(), Length(max=120)])
    action = StringField(
        "Action",
        validators=[Optional(), Length(max=64)],
        description="For instance command, or command.result",
    )
    target_id = StringField("Target id", validators=[Optional(), Length(max=64)])
    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("To (UTC, included)", validators=[Optional()])


class ClosureForm(FlaskForm):
    """An exceptional closure of a site; the domain checks the dates make sense."""

    starts_on = DateField("First closed day", validators=[DataRequired()])
    ends_on = DateField("Last closed day", validators=[DataRequired()])
    reason = StringField(
        "Reason",
        validators=[Length(max=200)],
        render_kw={"placeholder": "inventory, works, summer…"},
    )
    submit = SubmitField("Close these days")


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

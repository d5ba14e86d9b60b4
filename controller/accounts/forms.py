"""The accounts' forms: signing in and out, adding a user, filtering the audit log."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from controller.access import Role

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


class PasswordForm(FlaskForm):
    """One's own new password; the domain checks the current one and the length."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired(), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=1000)],
        description="At least 10 characters. Your other sessions end, here and elsewhere.",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Change my password")


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

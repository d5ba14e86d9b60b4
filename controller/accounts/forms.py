"""The accounts' forms: signing in and out, adding a user, filtering the audit log."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
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


TOKEN_DAYS = [
    SelectChoice(30, "30 days"),
    SelectChoice(90, "90 days"),
    SelectChoice(180, "180 days"),
    SelectChoice(366, "One year"),
]


class ApiTokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=80)],
        description="What will use it, for instance: Ansible inventory.",
        render_kw={"autocomplete": "off"},
    )
    days = SelectField("Valid for", choices=TOKEN_DAYS, coerce=int, default=90)
    read_only = BooleanField(
        "Read only", description="It can read what you can see, and change nothing."
    )
    submit = SubmitField("Create the token")


class RevokeApiTokenForm(FlaskForm):
    """The button that revokes an API token (its CSRF token only)."""

    submit = SubmitField("Revoke")


class AccessForm(FlaskForm):
    """An account's role and places, as an admin changes them (and sets them, in UserForm)."""

    role = SelectField(
        "Role",
        choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()],
        default=Role.MEDIATOR.value,
    )
    organisations = CheckboxList("Organisations covered", coerce=int)
    sites = CheckboxList("Sites covered", coerce=int)
    submit = SubmitField("Save role and places")


class UserForm(AccessForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=80)],
        description="Lowercase letters, digits, dots, dashes or underscores.",
        render_kw={"autocomplete": "off", "autocapitalize": "none"},
    )
    full_name = StringField("Full name", validators=[Optional(), Length(max=200)])
    password = PasswordField(
        "Initial password",
        validators=[DataRequired(), Length(max=1000)],
        description="At least 10 characters. Give it to the person privately.",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Add user")


class ResetPasswordForm(FlaskForm):
    """A new password for someone else's account."""

    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=1000)],
        description="At least 10 characters. Give it to the person privately; their sessions end.",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Reset the password")


class ActiveForm(FlaskForm):
    """Disable or enable an account (its CSRF token and the button)."""

    submit = SubmitField("Disable")


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

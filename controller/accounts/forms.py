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
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from controller.access import Role
from controller.i18n import LANGUAGES, _l

ROLE_LABELS = {
    Role.ADMIN: _l("Admin (city IT, everything)"),
    Role.TECHNICIAN: _l("Technician (devices)"),
    Role.MEDIATOR: _l("Mediator (public PCs of a site)"),
    Role.MANAGER: _l("Manager (reads, changes nothing)"),
}


class CheckboxList(SelectMultipleField):
    """Several choices as a list of checkboxes: easier to use by touch and keyboard than a
    multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=80)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


class PasswordForm(FlaskForm):
    """One's own new password; the domain checks the current one and the length."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("At least 10 characters. Your other sessions end, here and elsewhere."),
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change my password"))


class KioskPinForm(FlaskForm):
    """One's own kiosk PIN, typed twice; the domain checks the password, the digits and how
    easy they are to guess."""

    pin = PasswordField(
        _l("New kiosk PIN"),
        validators=[DataRequired(), Length(max=100)],
        description=_l(
            "4 to 8 digits. Not one digit repeated (0000) nor digits in a row (1234, 9876)."
        ),
        render_kw={"autocomplete": "off", "inputmode": "numeric", "maxlength": 8},
    )
    pin_again = PasswordField(
        _l("The same PIN again"),
        validators=[
            DataRequired(),
            EqualTo("pin", message=_l("The two PINs differ: type the same one twice.")),
        ],
        render_kw={"autocomplete": "off", "inputmode": "numeric", "maxlength": 8},
    )
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("So that nobody gives themselves a PIN on a page you left open."),
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Save my kiosk PIN"))


class RemoveKioskPinForm(FlaskForm):
    """The button that removes one's kiosk PIN (its CSRF token only)."""

    submit = SubmitField(_l("Remove my kiosk PIN"))


TOKEN_DAYS = [
    SelectChoice(30, _l("30 days")),
    SelectChoice(90, _l("90 days")),
    SelectChoice(180, _l("180 days")),
    SelectChoice(366, _l("One year")),
]


class ApiTokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("What will use it, for instance: Ansible inventory."),
        render_kw={"autocomplete": "off"},
    )
    days = SelectField(_l("Valid for"), choices=TOKEN_DAYS, coerce=int, default=90)
    read_only = BooleanField(
        _l("Read only"), description=_l("It can read what you can see, and change nothing.")
    )
    submit = SubmitField(_l("Create the token"))


class RevokeApiTokenForm(FlaskForm):
    """The button that revokes an API token (its CSRF token only)."""

    submit = SubmitField(_l("Revoke"))


class AccessForm(FlaskForm):
    """An account's role and places, as an admin changes them (and sets them, in UserForm)."""

    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()],
        default=Role.MEDIATOR.value,
    )
    organisations = CheckboxList(_l("Organisations covered"), coerce=int)
    sites = CheckboxList(_l("Sites covered"), coerce=int)
    submit = SubmitField(_l("Save role and places"))


class UserForm(AccessForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("Lowercase letters, digits, dots, dashes or underscores."),
        render_kw={"autocomplete": "off", "autocapitalize": "none"},
    )
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("At least 10 characters. Give it to the person privately."),
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Add user"))


class ResetPasswordForm(FlaskForm):
    """A new password for someone else's account."""

    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l(
            "At least 10 characters. Give it to the person privately; their sessions end."
        ),
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Reset the password"))


class ActiveForm(FlaskForm):
    """Disable or enable an account (its CSRF token and the button)."""

    submit = SubmitField(_l("Disable"))


class AuditFilterForm(FlaskForm):
    """The audit log's filters, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    # Choices are set by the page: the people in the log, the actions the domains describe.
    actor = SelectField(
        _l("Who"), choices=[], validate_choice=False, validators=[Optional(), Length(max=120)]
    )
    action = SelectField(
        _l("What"), choices=[], validate_choice=False, validators=[Optional(), Length(max=64)]
    )
    target_id = StringField(_l("Target id"), validators=[Optional(), Length(max=64)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To (included)"), validators=[Optional()])
    sign_ins = BooleanField(_l("Show signing in and out"))


class LanguageForm(FlaskForm):
    """The language one reads the pages in, or one's browser's."""

    language = SelectField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("My browser's")),
            *(SelectChoice(code, name) for code, name in LANGUAGES.items()),
        ],
    )
    submit = SubmitField(_l("Save the language"))

"""The lockers' forms: open one locker of a kiosk from its page; the rules of a site's kiosks."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired

from controller.i18n import _l


class OpenLockerForm(FlaskForm):
    """Which locker, and why. The domain checks both (a locker the kiosk has, a reason given),
    with messages of its own."""

    locker = IntegerField(_l("Locker"))
    reason = StringField(
        _l("Why you open it"),
        description=_l("Kept in the audit log with your name. Nothing of it shows on the kiosk."),
        render_kw={"maxlength": 200, "autocomplete": "off", "required": True},
    )
    submit = SubmitField(_l("Open the locker"))


class KioskSettingsForm(FlaskForm):
    """The rules of a site's charging kiosks; the domain checks the bounds and the lengths, with
    messages of its own."""

    max_charge_min = IntegerField(
        _l("Longest charge, in minutes"),
        validators=[InputRequired()],
        render_kw={"min": 10, "max": 1440, "inputmode": "numeric", "required": True},
        description=_l(
            "Past it, the locker stays shut until a member of staff opens it, and staff are "
            "alerted. From 10 minutes to 1,440 (a day)."
        ),
    )
    help_text = TextAreaField(
        _l("Where to ask for help"),
        description=_l(
            "Shown on the kiosk's screen with every problem, for instance “Ask at the "
            "reception desk, ground floor.” Empty: the kiosk says “Ask the staff at "
            "the desk.” 300 characters at most."
        ),
        render_kw={"maxlength": 300, "rows": 2},
    )
    forgotten_text = TextAreaField(
        _l("A phone left at closing time"),
        description=_l(
            "What happens to it, shown to residents who come back for it, for instance "
            "“Kept at the reception desk for a week: bring your ticket.” 300 characters "
            "at most."
        ),
        render_kw={"maxlength": 300, "rows": 2},
    )
    submit = SubmitField(_l("Save and send to the kiosks"))

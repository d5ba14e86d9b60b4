"""The lockers' form: open one locker of a kiosk from its page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, SubmitField

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

"""The places' forms: an exceptional closure of a site."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from controller.i18n import _l


class ClosureForm(FlaskForm):
    """An exceptional closure of a site; the domain checks the dates make sense."""

    starts_on = DateField(_l("First closed day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last closed day"), validators=[DataRequired()])
    reason = StringField(
        _l("Reason"),
        validators=[Length(max=200)],
        render_kw={"placeholder": _l("inventory, works, summer…")},
    )
    submit = SubmitField(_l("Close these days"))

"""The places' forms: an exceptional closure of a site, its opening hours."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField, SubmitField, TextAreaField
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


class OpeningHoursForm(FlaskForm):
    """A site's opening hours in OpenStreetMap syntax, previewed before they are saved."""

    opening_hours = TextAreaField(
        _l("Opening hours (OpenStreetMap syntax)"),
        validators=[Length(max=500)],
        description=_l(
            "For example Tu-Sa 10:00-12:00,14:00-18:00; PH off. Public holidays are France's."
        ),
        render_kw={"rows": 3, "autocapitalize": "none", "spellcheck": "false"},
    )
    preview = SubmitField(_l("Preview the next seven days"))
    submit = SubmitField(_l("Save the opening hours"))

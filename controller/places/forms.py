"""The places' forms: an exceptional closure of a site."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


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

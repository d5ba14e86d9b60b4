"""The forms of configuration pages: a layer's settings (blank: not set here), how to roll a
change out, and the plain confirmations (rollback, resume) that only carry their CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    Field,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SubmitField,
)
from wtforms.validators import NumberRange, Optional

from controller.configuration import catalogue
from controller.configuration.models import RolloutStrategy
from controller.i18n import _l

STRATEGIES = {
    RolloutStrategy.NOW: _l("Now, to every device"),
    RolloutStrategy.WAVES: _l(
        "In two waves: one site first, the others once all its devices applied it"
    ),
    RolloutStrategy.SCHEDULED: _l("At a set time, each device within a random spread"),
}


class LayerForm(FlaskForm):
    """One optional field per layered setting: a whole number, or a choice among what the
    controller has (the agent's release); the domain checks the bounds and the choice."""

    submit = SubmitField(_l("Preview the change"))

    @classmethod
    def with_settings(cls) -> type[LayerForm]:
        fields: dict[str, Field] = {
            name: _field(setting) for name, setting in catalogue.LAYERED.items()
        }
        return type("SettingsLayerForm", (cls,), fields)


def _field(setting: catalogue.LayeredSetting) -> Field:
    if setting.number:
        return IntegerField(
            setting.label,
            validators=[Optional()],
            render_kw={"inputmode": "numeric"},
            description=setting.unit,
        )
    # The choices are the page's (the releases kept); blank: the layer does not set it.
    return SelectField(
        setting.label,
        validate_choice=False,
        filters=[_blank_is_unset],
        description=_l(
            "Its devices install this release of borne and restart; one that does not come back "
            "within a few minutes goes back to its own, and the rollout stops."
        ),
    )


def _blank_is_unset(value: object) -> object:
    return value or None


class RolloutForm(FlaskForm):
    """The previewed settings (as JSON, checked again by the domain) and how to roll them out."""

    settings = HiddenField()
    strategy = RadioField(
        _l("When the devices get it"),
        choices=[SelectChoice(s.value, label) for s, label in STRATEGIES.items()],
        default=RolloutStrategy.NOW.value,
    )
    first_site = SelectField(_l("The site that goes first"), coerce=int, validate_choice=False)
    at = DateTimeLocalField(
        _l("Start at (city time)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    spread_min = IntegerField(
        _l("Spread over, in minutes"),
        default=5,
        validators=[Optional(), NumberRange(min=0, max=24 * 60)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 1440},
        description=_l("Each device starts at a random moment within this time after the start."),
    )
    submit = SubmitField(_l("Apply and roll out"))


class ConfirmForm(FlaskForm):
    submit = SubmitField()

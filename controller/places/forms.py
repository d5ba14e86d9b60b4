"""The places' forms: an exceptional closure of a site, its opening hours, its open-data
fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from controller.accounts.forms import CheckboxList
from controller.i18n import _l
from controller.places.open_data_fields import (
    FIELD_NAMES,
    FIELD_WORDS,
    VOCABULARIES,
    OpenDataFields,
)
from controller.places.vocabularies import TYPOLOGIES


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


def _choices(values: tuple[str, ...]) -> list[SelectChoice]:
    # The schema's own French words are the labels, as on the national map.
    return [SelectChoice(v, v) for v in values]


class OpenDataForm(FlaskForm):
    """A site's fields of the national open-data schema; the domain checks and tidies every
    value (open_data_fields.check_fields) and names each field it refuses."""

    pivot = StringField(
        FIELD_WORDS["pivot"],
        validators=[Length(max=40)],
        description=_l(
            "The SIRET of the place (14 digits, on annuaire-entreprises.data.gouv.fr), or the RNA "
            "number (W and 9 digits) of an association without SIRET. Required to be published."
        ),
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
    )
    typology = CheckboxList(
        FIELD_WORDS["typology"],
        choices=[SelectChoice(code, f"{code} — {label}") for code, label in TYPOLOGIES.items()],
        validate_choice=False,  # the domain names a wrong value; WTForms would say "not valid"
    )
    services = CheckboxList(
        FIELD_WORDS["services"],
        choices=_choices(VOCABULARIES["services"]),
        validate_choice=False,
        description=_l(
            "Internet access and computers is published by itself for a place with public PCs "
            "or a wifi hotspot."
        ),
    )
    publics = CheckboxList(
        FIELD_WORDS["publics"],
        choices=_choices(VOCABULARIES["publics"]),
        validate_choice=False,
        description=_l("None ticked: everyone is welcome."),
    )
    access_modes = CheckboxList(
        FIELD_WORDS["access_modes"],
        choices=_choices(VOCABULARIES["access_modes"]),
        validate_choice=False,
    )
    support_modes = CheckboxList(
        FIELD_WORDS["support_modes"],
        choices=_choices(VOCABULARIES["support_modes"]),
        validate_choice=False,
    )
    fees = CheckboxList(
        FIELD_WORDS["fees"], choices=_choices(VOCABULARIES["fees"]), validate_choice=False
    )
    summary = TextAreaField(
        FIELD_WORDS["summary"],
        validators=[Length(max=2000)],  # the domain says how much longer than 280 it is
        description=_l("At most 280 characters."),
        render_kw={"rows": 3},
    )
    phone = StringField(
        FIELD_WORDS["phone"],
        validators=[Length(max=40)],
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    email = StringField(
        FIELD_WORDS["email"],
        validators=[Length(max=254)],
        description=_l("Several: separate them with |."),
        render_kw={"autocomplete": "off", "inputmode": "email", "spellcheck": "false"},
    )
    website = StringField(
        FIELD_WORDS["website"],
        validators=[Length(max=500)],
        description=_l("Several (a social network too): separate them with |."),
        render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"},
    )
    accessibility_url = StringField(
        FIELD_WORDS["accessibility_url"],
        validators=[Length(max=500)],
        description=_l("The place's page on acceslibre.beta.gouv.fr, starting with https://"),
        render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"},
    )
    insee_code = StringField(
        FIELD_WORDS["insee_code"],
        validators=[Length(max=10)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Save the open-data fields"))

    def typed(self) -> OpenDataFields:
        """What was typed, for the domain to check."""
        empty = {name: [] if name in VOCABULARIES else "" for name in FIELD_NAMES}
        return OpenDataFields(**{name: getattr(self, name).data or empty[name] for name in empty})

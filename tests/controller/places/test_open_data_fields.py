"""A site's open-data fields (controller/places/open_data_fields.py): what is refused and why,
how typed values are tidied, and what keeps a site out of the export."""

from __future__ import annotations

import re
from datetime import date

import pytest

from controller.errors import DomainError
from controller.places.models import Site
from controller.places.open_data_fields import (
    InvalidFields,
    OpenDataFields,
    RequiredField,
    check_fields,
    check_phone,
    check_pivot,
    missing_for_export,
)

SIRET = "43493312300029"  # the national example's, its check digit right


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (SIRET, SIRET),
        ("434 933 123 00029", SIRET),  # as printed on a letterhead
        ("w381000123", "W381000123"),  # an RNA number
        ("35600000049837", "35600000049837"),  # La Poste: its own check
        ("", ""),
    ],
)
def test_a_siret_or_an_rna_number_is_kept_tidied(typed, kept):
    assert check_pivot(typed) == kept


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("43493312300028", "check digit is wrong"),  # one digit mistyped
        ("1234", "give a SIRET (14 digits)"),
        ("434-933-123", "give a SIRET (14 digits)"),
    ],
)
def test_a_mistyped_siret_is_refused_with_its_reason(typed, why):
    with pytest.raises(DomainError, match=re.escape(why)):
        check_pivot(typed)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("04 76 00 00 00", "+33476000000"),
        ("04.76.00.00.00", "+33476000000"),
        ("+33 4 76 00 00 00", "+33476000000"),
        ("0033476000000", "+33476000000"),
        ("+262262000000", "+262262000000"),  # La Réunion
    ],
)
def test_a_phone_number_is_written_in_the_schemas_international_form(typed, kept):
    assert check_phone(typed) == kept


def test_every_wrong_field_is_named_at_once_and_vocabularies_are_matched_loosely():
    with pytest.raises(InvalidFields) as refused:
        check_fields(
            OpenDataFields(
                pivot="123",
                services=["Aide aux démarches administratives", "Wifi"],
                phone="call us",
                accessibility_url="http://acceslibre.beta.gouv.fr/app/x",
                summary="x" * 281,
                insee_code="ABCDE",
            )
        )
    assert set(refused.value.problems) == {
        "pivot",
        "services",
        "phone",
        "accessibility_url",
        "summary",
        "insee_code",
    }
    assert "'Wifi' is not a value of the national schema" in refused.value.problems["services"]
    assert "281 given" in refused.value.problems["summary"]

    tidy = check_fields(
        OpenDataFields(
            typology=["bib", "MQ", "bib"],
            publics=["seniors", "ETUDIANTS"],
            access_modes=["Ce lieu n\N{RIGHT SINGLE QUOTATION MARK}accueille pas de public"],
            email=" accueil@example.fr | direction@example.fr ",
            website="https://example.fr|https://social.example/@lieu",
        )
    )
    assert tidy.typology == ["BIB", "MQ"]  # the vocabulary's order, each once
    assert tidy.publics == ["Étudiants", "Seniors"]
    assert tidy.access_modes == ["Ce lieu n'accueille pas de public"]
    assert tidy.email == "accueil@example.fr|direction@example.fr"


def test_a_site_misses_what_the_export_requires():
    site = Site(name="Médiathèque", city="Grenoble", address="", postcode="3800", pivot="")
    assert missing_for_export(site) == [
        RequiredField.PIVOT,
        RequiredField.POSTCODE,
        RequiredField.ADDRESS,
        RequiredField.UPDATED_ON,
    ]
    site.pivot, site.postcode, site.address = SIRET, "38000", "1 place de Verdun"
    site.data_updated_on = date(2026, 12, 1)
    assert missing_for_export(site) == []

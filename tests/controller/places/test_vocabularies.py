"""The schema's vocabularies written in controller/places/vocabularies.py are the ones of the
shipped copy of the schema (controller/data/mednum-schema-v1.0.2.json): a new version of the
schema shows here as a failing test, not as exports the national validator refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from controller.places import vocabularies as vocab

SCHEMA = Path(vocab.__file__).parents[1] / "data" / "mednum-schema-v1.0.2.json"

FIELDS = {f["name"]: f for f in json.loads(SCHEMA.read_text(encoding="utf-8"))["fields"]}


def values_of(pattern: str) -> set[str]:
    """The alternatives of a pattern like ``(?:(?:^|\\|)(A|B \\(b\\)))+$``."""
    inner = re.search(r"\(\?:\^\|\\\|\)\((.*)\)\)\+\$$", pattern)
    assert inner, pattern
    return {re.sub(r"\\(.)", r"\1", v) for v in re.split(r"(?<!\\)\|", inner.group(1))}


@pytest.mark.parametrize(
    ("column", "vocabulary"),
    [
        ("services", vocab.Service),
        ("publics_specifiquement_adresses", vocab.Public),
        ("modalites_acces", vocab.AccessMode),
        ("modalites_accompagnement", vocab.SupportMode),
        ("frais_a_charge", vocab.Fee),
    ],
)
def test_each_vocabulary_is_the_schemas_own(column, vocabulary):
    assert {v.value for v in vocabulary} == values_of(FIELDS[column]["constraints"]["pattern"])


def test_the_patterns_are_the_schemas_own():
    for column, pattern in [
        ("pivot", vocab.PIVOT),
        ("code_postal", vocab.POSTCODE),
        ("code_insee", vocab.INSEE_CODE),
        ("telephone", vocab.PHONE),
    ]:
        assert pattern.pattern == FIELDS[column]["constraints"]["pattern"], column
    assert FIELDS["presentation_resume"]["constraints"]["maxLength"] == vocab.SUMMARY_MAX


def test_the_typologies_hold_those_of_the_demo_and_of_the_national_example():
    assert {"BIB", "MQ", "MUNI", "CS", "TIERS_LIEUX", "ASSO", "CCAS", "EPN"} <= set(
        vocab.TYPOLOGIES
    )

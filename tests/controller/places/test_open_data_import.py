"""Importing places (controller/places/open_data.py): borne's demo file and a file of the
national schema both import; every value is checked before anything is written, and a wrong
one is named by its line and its column."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.audit import AuditLog
from controller.errors import DomainError
from controller.places import open_data
from controller.places.models import Organisation, Site
from controller.places.vocabularies import Service
from tests.controller.testkit import DEMO_PLACES, TIMEZONE, count
from tests.factories import make_site

NATIONAL_EXAMPLE = Path(__file__).resolve().parent / "data" / "mednum-exemple-valide.csv"
TODAY = date(2026, 12, 12)


def import_file(db, path: Path, **options) -> open_data.ImportResult:
    return open_data.import_places(db, "cli", path, timezone=TIMEZONE, today=TODAY, **options)


def national_file(tmp_path, *lines: str, header: str = "") -> Path:
    """A file of the national schema's columns (those of its example) with ``lines``."""
    columns = header or NATIONAL_EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "lieux.csv"
    path.write_text("\n".join([columns, *lines]) + "\n", encoding="utf-8")
    return path


def example_line(**changes: str) -> str:
    """The national example's line with some cells replaced (by their current text)."""
    line = NATIONAL_EXAMPLE.read_text(encoding="utf-8").splitlines()[1]
    for old, new in changes.items():
        assert old in line, old
        line = line.replace(old, new)
    return line


def test_the_national_example_imports_with_every_field(db):
    result = import_file(db, NATIONAL_EXAMPLE)

    assert (result.sites_created, result.warnings) == (1, [])
    site = db.scalars(select(Site).where(Site.slug == "structure-1")).one()
    assert (site.name, site.city, site.postcode, site.insee_code) == (
        "Anonymal",
        "Reims",
        "51100",
        "51454",
    )
    assert site.pivot == "43493312300029" and site.typology == ["ASSO", "TIERS_LIEUX"]
    assert site.services == [
        "Maîtrise des outils numériques du quotidien",
        "Insertion professionnelle via le numérique",
        "Loisirs et créations numériques",
    ]
    assert site.publics == ["Jeunes", "Femmes"]
    assert site.fees == ["Gratuit sous condition", "Payant"]
    assert site.access_modes == ["Se présenter", "Téléphoner"]
    assert site.support_modes == [
        "En autonomie",
        "Accompagnement individuel",
        "Dans un atelier collectif",
        "À distance",
    ]
    assert site.phone == "+33180059880"
    assert site.email == "contact@laquincaillerie.tl|responsable@laquincaillerie.tl"
    assert site.accessibility_url.startswith("https://acceslibre.beta.gouv.fr/")
    assert site.opening_hours == "Mo-Fr 09:00-12:00,14:00-18:30; Sa 08:30-12:00"
    assert site.data_updated_on == date(2024, 4, 2)  # its date_maj, not the day of the import
    # The schema has no organisation: the place's parent structure stands for it.
    assert site.organisation.name == "SIRET de la ville pour une bibliothèque."


def test_a_national_file_without_parent_structure_takes_the_organisation_given(db, tmp_path):
    lines = NATIONAL_EXAMPLE.read_text(encoding="utf-8").splitlines()
    path = national_file(
        tmp_path, lines[1].replace('"SIRET de la ville pour une bibliothèque."', '""')
    )

    with pytest.raises(DomainError, match=r"lieux.csv line 2, column organisation: empty"):
        import_file(db, path)
    import_file(db, path, organisation="Ville de Reims")

    assert (
        db.scalars(select(Site.organisation_id)).one()
        == db.scalars(select(Organisation.id).where(Organisation.name == "Ville de Reims")).one()
    )


def test_the_demo_places_import_and_borne_s_own_offers_are_dropped_with_a_warning(db):
    result = import_file(db, DEMO_PLACES)

    assert result.sites_created == 15
    assert result.warnings == [
        "services: 'Recharge de téléphone' dropped on 1 line: borne shows a place's wifi, PCs "
        "and chargers from its devices, and the national schema has no such value",
        "services: 'Wifi' dropped on 13 lines: borne shows a place's wifi, PCs and chargers "
        "from its devices, and the national schema has no such value",
    ]
    library = db.scalars(select(Site).where(Site.slug == "grenoble-mdh-teisseire")).one()
    assert library.services == [
        Service.ADMINISTRATIVE_PROCEDURES,
        Service.INTERNET_AND_COMPUTERS,
    ]
    assert (library.pivot, library.typology) == ("DEMO00000004", ["MQ"])
    assert library.data_updated_on == date(2026, 11, 22)
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "places.import")).one()
    assert entry.detail["dropped"] == {"Wifi": 13, "Recharge de téléphone": 1}


def test_an_import_keeps_the_open_data_fields_its_file_has_no_column_for(db, tmp_path):
    site = make_site(db, slug="mdh-nord", publics=["Seniors"], pivot="73282932000074")
    path = tmp_path / "places.csv"
    path.write_text(
        "id,organisation,nom,commune,latitude,longitude,horaires\n"
        f"mdh-nord,{site.organisation.name},MDH Nord,Grenoble,45.19,5.72,Mo-Fr 09:00-17:00\n",
        encoding="utf-8",
    )

    import_file(db, path)

    db.refresh(site)
    assert (site.publics, site.pivot) == (["Seniors"], "73282932000074")
    assert site.data_updated_on == TODAY  # no date_maj: the import dates the data


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"Jeunes|Femmes": "Jeunes|Retraités"},
            "column publics_specifiquement_adresses: 'Retraités' is not a value of the "
            "national schema",
        ),
        ({"TIERS_LIEUX|ASSO": "TIERS_LIEUX|CLUB"}, "column typologie: 'CLUB' is not a value"),
        ({"43493312300029": "43493312300028"}, "column pivot: 43493312300028 is not a SIRET"),
        ({"2024-04-02": "02/04/2024"}, "column date_maj: '02/04/2024' is not a date (YYYY-MM-DD)"),
        ({'"51100"': '"5110"'}, "column code_postal: '5110' is not a postcode (5 digits)"),
        ({"+33180059880": "tel. accueil"}, "column telephone: 'tel. accueil' is not a phone"),
        ({'"43.52609"': '"north"'}, "column latitude: 'north' is not a number"),
    ],
)
def test_a_wrong_value_is_named_by_line_and_column_and_nothing_is_written(
    db, tmp_path, changes, problem
):
    path = national_file(
        tmp_path, example_line(), example_line(**changes).replace("structure-1", "structure-2")
    )

    with pytest.raises(DomainError) as refused:
        import_file(db, path)

    assert f"lieux.csv line 3, {problem}" in refused.value.message
    assert count(db, Site) == 0 and count(db, Organisation) == 0


def test_a_place_given_twice_is_refused(db, tmp_path):
    path = national_file(tmp_path, example_line(), example_line())
    with pytest.raises(DomainError, match="line 3, column id: 'structure-1' is already on line 2"):
        import_file(db, path)

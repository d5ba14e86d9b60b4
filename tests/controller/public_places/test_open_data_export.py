"""The public places as national open data (controller/public_places/open_data_export.py and
export_web.py): ``/open-data/places.csv`` validates against the shipped schema with the
frictionless validator on both databases, sites missing a required field are left out and
counted, values outside the schema's vocabularies never leave, and the GeoJSON says the same."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from frictionless import Resource, Schema

from agent.protocol import DeviceKind
from controller.places import open_data
from controller.public_places.export_web import open_data_export
from controller.public_places.open_data_export import COLUMNS, sites_for_export
from tests.controller.testkit import DEMO_PLACES, TIMEZONE
from tests.factories import make_device, make_site

SCHEMA = Path(open_data.__file__).parents[1] / "data" / "mednum-schema-v1.0.2.json"
SIRET = "43493312300029"


@pytest.fixture
def client(make_app):
    """A client of an app that serves the export (public_places registers the blueprint; an
    app built before that domain is installed gets it here)."""
    app = make_app()
    if open_data_export.name not in app.blueprints:
        app.register_blueprint(open_data_export)
    return app.test_client()


def complete_site(db, **overrides):
    return make_site(
        db,
        **{
            "pivot": SIRET,
            "address": "1 place de Verdun",
            "postcode": "38000",
            "data_updated_on": date(2026, 11, 22),
            **overrides,
        },
    )


def validation_errors(body: bytes) -> list[list[object]]:
    """What the frictionless validator finds wrong with a CSV against the national schema."""
    resource = Resource(
        data=body,
        format="csv",
        schema=Schema.from_descriptor(json.loads(SCHEMA.read_text(encoding="utf-8"))),
    )
    report = resource.validate()
    return report.flatten(["rowNumber", "fieldName", "type", "message"])


def rows_of(answer) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_the_demo_places_export_valid_against_the_national_schema(client, db):
    open_data.import_places(db, "cli", DEMO_PLACES, timezone=TIMEZONE)
    db.flush()

    answer = client.get("/open-data/places.csv")

    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert validation_errors(answer.data) == []
    rows = rows_of(answer)
    assert len(rows) == 15 and answer.headers["X-Borne-Left-Out"] == "0"
    assert list(rows[0]) == list(COLUMNS)
    assert all("Wifi" not in row["services"] for row in rows)  # borne's word, not the schema's
    library = next(r for r in rows if r["id"] == "grenoble-bib-centre-ville")
    assert library["horaires"] == "Tu-Sa 10:00-18:00" and library["typologie"] == "BIB"
    assert library["structure_parente"] == "Bibliothèques de Grenoble"


def test_a_site_missing_a_required_field_is_left_out_and_counted(client, db):
    complete_site(db, name="Bibliothèque complète")
    make_site(db, name="Sans SIRET", pivot="", postcode="38000", address="2 rue X")
    make_site(db, name="Sans rien")
    make_site(db, name="Privé", public=False)  # not public: not counted either

    answer = client.get("/open-data/places.csv")

    assert [r["nom"] for r in rows_of(answer)] == ["Bibliothèque complète"]
    assert answer.headers["X-Borne-Left-Out"] == "2"
    assert validation_errors(answer.data) == []
    left_out = sites_for_export(db).left_out
    assert [(site.name, [str(m) for m in missing]) for site, missing in left_out] == [
        ("Sans SIRET", ["pivot", "date_maj"]),
        ("Sans rien", ["pivot", "code_postal", "adresse", "date_maj"]),
    ]


def test_only_the_schemas_values_leave_and_devices_give_internet_access(client, db):
    with_pcs = complete_site(
        db,
        name="A",
        services=["Wifi", "Aide aux démarches administratives"],  # an old import's
        typology=["BIB", "OLD"],
        publics=["Seniors"],
        fees=["Gratuit"],
        phone="+33476000000",
    )
    make_device(db, with_pcs, kind=DeviceKind.PC)
    with_wifi = complete_site(db, name="B")
    make_device(db, with_wifi, kind=DeviceKind.HOTSPOT)
    with_kiosk_only = complete_site(db, name="C")
    make_device(db, with_kiosk_only, kind=DeviceKind.KIOSK)

    rows = {r["nom"]: r for r in rows_of(client.get("/open-data/places.csv"))}

    assert rows["A"]["services"] == (
        "Aide aux démarches administratives|Accès internet et matériel informatique"
    )
    assert (
        rows["A"]["typologie"] == "BIB"
        and rows["A"]["publics_specifiquement_adresses"] == "Seniors"
    )
    assert rows["A"]["telephone"] == "+33476000000" and rows["A"]["frais_a_charge"] == "Gratuit"
    assert rows["B"]["services"] == "Accès internet et matériel informatique"
    assert rows["C"]["services"] == ""


def test_the_national_example_round_trips_through_import_and_export(client, db):
    example = Path(__file__).resolve().parents[1] / "places" / "data" / "mednum-exemple-valide.csv"
    open_data.import_places(db, "cli", example, timezone=TIMEZONE)
    db.flush()

    answer = client.get("/open-data/places.csv")

    assert validation_errors(answer.data) == []
    (row,) = rows_of(answer)
    source = next(csv.DictReader(example.open(encoding="utf-8")))
    for column in (
        "id",
        "pivot",
        "nom",
        "code_postal",
        "code_insee",
        "telephone",
        "courriels",
        "site_web",
        "horaires",
        "date_maj",
        "presentation_resume",
        "fiche_acces_libre",
    ):
        assert row[column] == source[column], column
    for column in ("services", "typologie", "modalites_accompagnement", "frais_a_charge"):
        assert set(row[column].split("|")) == set(source[column].split("|")), column


def test_the_geojson_holds_the_same_places_and_properties(client, db):
    complete_site(db, name="A", latitude=45.1899, longitude=5.7287)
    complete_site(db, name="Sans coordonnées", latitude=None, longitude=None)
    make_site(db, name="Sans SIRET", pivot="")

    answer = client.get("/open-data/places.geojson")

    assert answer.mimetype == "application/geo+json"
    assert answer.headers["X-Borne-Left-Out"] == "1"
    collection = json.loads(answer.data)
    assert collection["type"] == "FeatureCollection"
    located, unlocated = collection["features"]
    assert located["geometry"] == {"type": "Point", "coordinates": [5.7287, 45.1899]}
    assert list(located["properties"]) == list(COLUMNS)
    assert located["properties"]["pivot"] == SIRET and located["properties"]["latitude"] == 45.1899
    assert unlocated["properties"]["nom"] == "Sans coordonnées" and unlocated["geometry"] is None


def test_the_export_is_public_cacheable_and_readable_from_any_origin(client, db):
    complete_site(db)

    answer = client.get("/open-data/places.csv")  # nobody signed in

    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Borne-Left-Out" in answer.headers["Access-Control-Expose-Headers"]
    assert "max-age=300" in answer.headers["Cache-Control"]
    again = client.get("/open-data/places.csv", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_the_validator_refuses_what_the_export_never_writes():
    # The check above is worth something only if the validator sees these mistakes.
    header = ",".join(COLUMNS)
    row = dict.fromkeys(COLUMNS, "")
    row.update(id="a", pivot="", nom="A", commune="Grenoble", code_postal="3800", adresse="1 rue")
    row.update(date_maj="2026-11-22", services="Wifi")
    body = (header + "\r\n" + ",".join(row[c] for c in COLUMNS) + "\r\n").encode()
    found = {(error[1], error[2]) for error in validation_errors(body)}
    assert {
        ("pivot", "constraint-error"),
        ("code_postal", "constraint-error"),
        ("services", "constraint-error"),
    } <= found

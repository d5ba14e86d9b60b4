"""The public places as national open data: the schema of digital-mediation places
(standard-mediation-num v1.0.2, ``controller/data/mednum-schema-v1.0.2.json``), in CSV and in
GeoJSON, so that the city publishes its places to the national map (cartographie nationale des
lieux d'inclusion numérique) and anyone can reuse them.

What is written:
- public sites only, and only those that have every required field (``pivot``, ``nom``,
  ``commune``, ``code_postal``, ``adresse``, ``date_maj``; ``id`` is the site's slug): a site
  missing one is left out and counted, never published broken;
- every column of the schema, in its order, empty where borne knows nothing;
- list fields only with the schema's values, ``|`` between them. borne's own offers are never
  written as services, with one exception the schema has a word for: a site with a public PC
  or a wifi hotspot in service offers "Accès internet et matériel informatique", whatever its
  declared services say — the devices are the truth of it;
- ``structure_parente``: the site's organisation (the network it belongs to);
- ``horaires``: the site's opening hours, already in OpenStreetMap syntax.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from agent.protocol import DeviceKind
from controller.fleet.models import Device
from controller.places.models import Site
from controller.places.open_data_fields import VOCABULARIES, RequiredField, missing_for_export
from controller.places.vocabularies import LIST_SEPARATOR, Service

# The schema's fields in its order (tests/controller/public_places/test_open_data_export.py
# compares them with the shipped copy of the schema).
COLUMNS = (
    "id",
    "pivot",
    "nom",
    "commune",
    "code_postal",
    "code_insee",
    "adresse",
    "complement_adresse",
    "latitude",
    "longitude",
    "typologie",
    "telephone",
    "courriels",
    "site_web",
    "horaires",
    "presentation_resume",
    "presentation_detail",
    "source",
    "itinerance",
    "structure_parente",
    "date_maj",
    "services",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "dispositif_programmes_nationaux",
    "formations_labels",
    "autres_formations_labels",
    "modalites_acces",
    "modalites_accompagnement",
    "fiche_acces_libre",
    "prise_rdv",
)

# Devices that make a place one with internet access and computers, by the schema's word.
INTERNET_DEVICES = (DeviceKind.PC, DeviceKind.HOTSPOT)

Row = dict[str, str | float | None]


@dataclass
class ExportResult:
    """The rows to publish, and the public sites left out with the required fields they lack."""

    rows: list[Row] = field(default_factory=list)
    left_out: list[tuple[Site, list[RequiredField]]] = field(default_factory=list)


def sites_for_export(session: Session) -> ExportResult:
    """The public sites as rows of the schema, by name; those missing a required field apart."""
    sites = session.scalars(
        select(Site)
        .where(Site.public.is_(True))
        .options(selectinload(Site.organisation))
        .order_by(Site.name, Site.id)
    )
    online = set(
        session.scalars(
            select(Device.site_id)
            .where(Device.kind.in_(INTERNET_DEVICES), Device.retired_at.is_(None))
            .distinct()
        )
    )
    result = ExportResult()
    for site in sites:
        missing = missing_for_export(site)
        if missing:
            result.left_out.append((site, missing))
        else:
            result.rows.append(row_of(site, internet_access=site.id in online))
    return result


def row_of(site: Site, *, internet_access: bool) -> Row:
    """One site as a row of the schema: every column, None where there is nothing to say."""
    services = set(site.services or ())
    if internet_access:
        services.add(Service.INTERNET_AND_COMPUTERS)
    assert site.data_updated_on is not None  # missing_for_export said so
    values: Row = {
        "id": site.slug,
        "pivot": site.pivot,
        "nom": site.name.strip(),
        "commune": site.city.strip(),
        "code_postal": site.postcode,
        "code_insee": site.insee_code,
        "adresse": site.address.strip(),
        "latitude": site.latitude,
        "longitude": site.longitude,
        "typologie": _joined(site.typology, VOCABULARIES["typology"]),
        "telephone": site.phone,
        "courriels": site.email,
        "site_web": site.website,
        "horaires": site.opening_hours,
        "presentation_resume": site.summary,
        "structure_parente": site.organisation.name,
        "date_maj": site.data_updated_on.isoformat(),
        "services": _joined(services, VOCABULARIES["services"]),
        "publics_specifiquement_adresses": _joined(site.publics, VOCABULARIES["publics"]),
        "frais_a_charge": _joined(site.fees, VOCABULARIES["fees"]),
        "modalites_acces": _joined(site.access_modes, VOCABULARIES["access_modes"]),
        "modalites_accompagnement": _joined(site.support_modes, VOCABULARIES["support_modes"]),
        "fiche_acces_libre": site.accessibility_url,
    }
    return {column: values.get(column) or None for column in COLUMNS}


def _joined(values: Iterable[str] | None, allowed: tuple[str, ...]) -> str:
    """The allowed ones among ``values``, in the vocabulary's order, ``|`` between them: a value
    stored before the vocabularies were checked (an old import's "Wifi") is never published."""
    present = set(values or ())
    return LIST_SEPARATOR.join(a for a in allowed if a in present)


def as_csv(result: ExportResult) -> str:
    """The rows as the schema's CSV: a header of every column, comma-separated, UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in result.rows:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()


def as_geojson(result: ExportResult) -> str:
    """The rows as a GeoJSON FeatureCollection (RFC 7946): a point per place where its
    coordinates are known (no geometry otherwise), the same properties as the CSV."""
    features: list[dict[str, Any]] = []
    for row in result.rows:
        latitude, longitude = row["latitude"], row["longitude"]
        geometry = (
            {"type": "Point", "coordinates": [longitude, latitude]}
            if latitude is not None and longitude is not None
            else None
        )
        features.append(
            {"type": "Feature", "id": row["id"], "geometry": geometry, "properties": row}
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)

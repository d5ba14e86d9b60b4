"""Staff API for places: the organisations and sites the caller covers."""

from __future__ import annotations

import msgspec
from flask import Blueprint, Response

from controller.accounts.current import signed_in
from controller.api.io import documented, json_response
from controller.context import db_session
from controller.fleet import service as fleet
from controller.places.open_data_fields import missing_for_export

places_api = Blueprint("places", __name__)


class OrganisationOut(msgspec.Struct):
    id: int
    name: str


class SiteOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    organisation_id: int
    organisation: str
    address: str
    city: str
    latitude: float | None
    longitude: float | None
    opening_hours: str
    devices: dict[str, int]
    pivot: str = ""  # SIRET or RNA number, for the national open data
    # The national schema's required fields the site lacks (``code_postal``, ``pivot``…): while
    # any is listed, the open-data export leaves the site out.
    open_data_missing: list[str] = []


@places_api.get("/organisations")
@documented("Organisations the caller covers", response=list[OrganisationOut], auth="staff")
def list_organisations() -> Response:
    summaries = fleet.list_sites(db_session(), signed_in())
    seen = {s.site.organisation.id: s.site.organisation for s in summaries}
    return json_response([OrganisationOut(o.id, o.name) for o in seen.values()])


@places_api.get("/sites")
@documented(
    "Sites the caller covers, with device counts by status", response=list[SiteOut], auth="staff"
)
def list_sites() -> Response:
    return json_response(
        [
            SiteOut(
                id=s.site.id,
                slug=s.site.slug,
                name=s.site.name,
                organisation_id=s.site.organisation_id,
                organisation=s.site.organisation.name,
                address=s.site.address,
                city=s.site.city,
                latitude=s.site.latitude,
                longitude=s.site.longitude,
                opening_hours=s.site.opening_hours,
                devices={status.value: n for status, n in s.counts.items()},
                pivot=s.site.pivot,
                open_data_missing=[str(m) for m in missing_for_export(s.site)],
            )
            for s in fleet.list_sites(db_session(), signed_in())
        ]
    )

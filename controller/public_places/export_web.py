"""``GET /open-data/places.csv`` and ``GET /open-data/places.geojson``: the public places as
national open data (controller/public_places/open_data_export.py), for anyone, no sign-in.

Both answers say how many public places were left out for missing required fields
(``X-Borne-Left-Out``, readable by scripts of other origins too), may be cached for a few
minutes and revalidated with their ETag, and are readable from any origin: open data is meant
to be fetched by other sites (the national map's harvester, a city's own map).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from controller.context import db_session
from controller.public_places.open_data_export import (
    ExportResult,
    as_csv,
    as_geojson,
    sites_for_export,
)

open_data_export = Blueprint("open_data_export", __name__)

LEFT_OUT_HEADER = "X-Borne-Left-Out"
MAX_AGE_S = 300  # a place's data changes a few times a year; harvesters come daily


@open_data_export.get("/open-data/places.csv")
def places_csv() -> Response:
    result = sites_for_export(db_session())
    return _open_data(
        as_csv(result), "text/csv; charset=utf-8", "lieux-mediation-numerique.csv", result
    )


@open_data_export.get("/open-data/places.geojson")
def places_geojson() -> Response:
    result = sites_for_export(db_session())
    return _open_data(
        as_geojson(result), "application/geo+json", "lieux-mediation-numerique.geojson", result
    )


def _open_data(body: str, mimetype: str, filename: str, result: ExportResult) -> Response:
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers[LEFT_OUT_HEADER] = str(len(result.left_out))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = LEFT_OUT_HEADER
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE_S
    response.add_etag()
    return response.make_conditional(request)

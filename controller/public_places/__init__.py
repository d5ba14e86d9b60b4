"""The public places, for anyone and without signing in: the list and the map at ``/places`` in
the portal's languages, each place's hours in plain words and its live state (PCs free, wifi,
lockers: aggregates only), the nearest open places for a hotspot's closed page, and the national
open-data export (``/open-data/places.csv`` and ``.geojson``)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the services without the pages.
    from controller.public_places.export_web import open_data_export
    from controller.public_places.web import public_places_web

    app.register_blueprint(public_places_web)
    app.register_blueprint(open_data_export)

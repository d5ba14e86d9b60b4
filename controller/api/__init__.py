"""The REST API under ``/api/v1``: JSON in and out, every route described in the OpenAPI document.

Each domain adds its own blueprint below the ``/api/v1`` parent with :func:`add_api`; the parent
is made for each app (a blueprint cannot take children once registered, and tests build many
apps) and registered by the app factory once every domain has added its part.

Writes accept only ``application/json`` bodies. Together with SameSite cookies this is the API's
CSRF defence: a cross-site HTML form cannot send that content type without a CORS preflight, which
this API never grants; so the API's blueprints are exempt from the pages' CSRF tokens.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from controller.extensions import csrf

PARENT = "borne.api"


def init_api(app: Flask) -> None:
    """Make ``app``'s ``/api/v1`` parent, with the OpenAPI document on it."""
    from controller.api.openapi import openapi

    parent = Blueprint("api", __name__)
    app.extensions[PARENT] = parent
    add_api(app, openapi)


def add_api(app: Flask, blueprint: Blueprint) -> None:
    """Serve ``blueprint``'s routes under ``/api/v1`` (a domain's ``init_app`` calls this)."""
    csrf.exempt(blueprint)
    parent: Blueprint = app.extensions[PARENT]
    parent.register_blueprint(blueprint)


def register_api(app: Flask) -> None:
    """Register the parent with every domain's part on ``app`` (the factory, last)."""
    app.register_blueprint(app.extensions.pop(PARENT), url_prefix="/api/v1")

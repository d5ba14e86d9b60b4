"""The REST API under ``/api/v1``: JSON in and out, every route described in the OpenAPI document.

Writes accept only ``application/json`` bodies. Together with SameSite cookies this is the API's
CSRF defence: a cross-site HTML form cannot send that content type without a CORS preflight, which
this API never grants.
"""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("api", __name__)

# Routes register themselves on import.
from controller.api import (  # noqa: E402
    agent,
    commands,
    enrolment,
    fleet,
    hotspots,
    openapi,
    public_pcs,
)

__all__ = ["agent", "api", "commands", "enrolment", "fleet", "hotspots", "openapi", "public_pcs"]

"""HTML pages for staff: the fleet, sites, devices, enrolment tokens, users, the audit log."""

from __future__ import annotations

from flask import Blueprint

web = Blueprint("web", __name__)

from controller.web import views  # noqa: E402

__all__ = ["views", "web"]

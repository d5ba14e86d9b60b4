"""Operations endpoints outside the API: ``/healthz`` for load balancers, ``/metrics``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controller.api.io import json_response
from controller.metrics import metrics_response

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> Response:
    """200 when the process serves and its database answers, 503 otherwise."""
    try:
        with current_app.extensions["borne.db"].session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return json_response({"status": "failing", "database": str(exc.__class__.__name__)}, 503)
    return json_response({"status": "ok", "database": "ok"})


@ops.get("/metrics")
def metrics() -> Response:
    return metrics_response(current_app.extensions["borne.metrics"])

"""Operations endpoints outside the API: ``/healthz`` for load balancers, ``/metrics``."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controller.api.io import error_response, json_response
from controller.context import settings_of
from controller.metrics import metrics_response

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> Response:
    """200 when the process serves and its database answers, 503 otherwise."""
    try:
        with current_app.extensions["borne.db"].session(writes=False) as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return json_response({"status": "failing", "database": str(exc.__class__.__name__)}, 503)
    return json_response({"status": "ok", "database": "ok"})


@ops.get("/metrics")
def metrics() -> Response:
    """The process's figures, for Prometheus: only with the configured token, or, when none is
    set, only from this machine. They name sites and devices, and tell who is failing to sign in."""
    token = settings_of(current_app).metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            response = error_response(
                401, "unauthenticated", "send the metrics token as Authorization: Bearer <token>"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _from_this_machine(request.remote_addr):
        return error_response(
            403,
            "forbidden",
            "metrics are read from this machine only; set metrics_token to scrape from elsewhere",
        )
    return metrics_response(current_app.extensions["borne.metrics"])


def _from_this_machine(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False

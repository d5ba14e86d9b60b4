"""``POST /api/v1/agent/events``: the agents' HTTP fallback when Socket.IO cannot connect."""

from __future__ import annotations

from flask import Response, current_app

from agent.protocol import EventAck, EventBatch
from controller.api import api
from controller.api.io import (
    basic_credentials,
    documented,
    error_response,
    json_response,
    parse_body,
)
from controller.context import db_session
from controller.enrolment import authenticate_device
from controller.ingest import IngestUnavailable


@api.post("/agent/events")
@documented(
    "Send agent events (HTTP fallback of the Socket.IO channel)",
    body=EventBatch,
    response=EventAck,
    auth="device",
    errors={401: "unknown device or wrong secret", 422: "invalid event", 503: "not stored"},
)
def post_events() -> Response:
    device_id, secret = basic_credentials()
    session = db_session()
    device = authenticate_device(session, device_id, secret)
    session.close()  # the writer uses its own transaction; do not hold this one open meanwhile
    # Same code as the Socket.IO channel's refusal, so the agent drops the batch either way.
    batch = parse_body(EventBatch, invalid_code="invalid_event")
    try:
        ack = current_app.extensions["borne.ingest"].submit(device.id, batch.events)
    except IngestUnavailable as exc:
        return error_response(503, "unavailable", str(exc))
    return json_response(ack)

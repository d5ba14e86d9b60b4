"""``POST /api/v1/agent/events``: the agents' HTTP fallback when Socket.IO cannot connect."""

from __future__ import annotations

from flask import Response, current_app

from agent.protocol import ClaimAnswer, CommandMessage, EventAck, EventBatch
from controller import commands
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


def _device() -> str:
    device_id, secret = basic_credentials()
    return authenticate_device(db_session(), device_id, secret).id


@api.get("/agent/commands")
@documented(
    "Commands waiting for this device (HTTP fallback of the push)",
    response=list[CommandMessage],
    auth="device",
    errors={401: "unknown device or wrong secret"},
)
def pending_commands() -> Response:
    session = db_session()
    pending = commands.pending_for(session, _device())
    commands.mark_sent(session, [c.id for c in pending])
    session.commit()
    return json_response([commands.message_for(c) for c in pending])


@api.post("/agent/commands/<command_id>/claim")
@documented(
    "Claim a command before running it: granted once, never after expiry",
    response=ClaimAnswer,
    auth="device",
    errors={
        401: "unknown device or wrong secret",
        404: "unknown command",
        409: "already claimed",
        410: "expired",
    },
)
def claim_command(command_id: str) -> Response:
    session = db_session()
    answer = commands.claim(session, _device(), command_id)
    session.commit()
    if answer.ok:
        return json_response(answer)
    status = {"unknown": 404, "claimed": 409, "expired": 410}.get(answer.reason, 409)
    return error_response(status, answer.reason, answer.message)

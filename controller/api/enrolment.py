"""``POST /api/v1/enrol``: a device trades its one-time token for an identity."""

from __future__ import annotations

from flask import Response

from agent.protocol import EnrolRequest, EnrolResponse
from controller import enrolment
from controller.api import api
from controller.api.io import documented, json_response, parse_body
from controller.context import db_session, settings_of


@api.post("/enrol")
@documented(
    "Enrol a device with a one-time token",
    body=EnrolRequest,
    response=EnrolResponse,
    status=201,
    errors={
        403: "unknown token",
        409: "token already used",
        410: "token expired",
        422: "invalid request",
    },
)
def enrol() -> Response:
    from flask import current_app

    request = parse_body(EnrolRequest)
    session = db_session()
    answer = enrolment.enrol(
        session, request, heartbeat_interval_s=settings_of(current_app).heartbeat_interval_s
    )
    session.commit()
    return json_response(answer, 201)

"""Trading a one-time enrolment token for the device's id and secret."""

from __future__ import annotations

import msgspec

from agent.protocol import AGENT_FEATURES, DeviceKind, EnrolRequest, EnrolResponse, Inventory
from agent.transport import TransportError, post_json

ENROL_PATH = "/api/v1/enrol"


class EnrolmentError(Exception):
    """Enrolment did not succeed; the message says why, for a person."""


class EnrolmentRefused(EnrolmentError):
    """The controller said no (4xx): expired or used token, unknown kind …"""

    def __init__(self, code: str, message: str):
        super().__init__(message or code)
        self.code = code
        self.message = message


def enrol(
    controller_url: str,
    token: str,
    kind: DeviceKind,
    inventory: Inventory,
    *,
    timeout_s: float = 10,
) -> EnrolResponse:
    """``POST {controller}/api/v1/enrol`` and return the controller's answer (201)."""
    url = controller_url.rstrip("/") + ENROL_PATH
    try:
        # What it reads: the controller leaves out of its first settings what it would refuse.
        request = EnrolRequest(
            token=token, kind=kind, inventory=inventory, features=list(AGENT_FEATURES)
        )
        body = msgspec.json.encode(request)
        # Structs are not validated on construction: check the token's length here, not remotely.
        msgspec.json.decode(body, type=EnrolRequest)
    except msgspec.ValidationError as exc:
        raise EnrolmentError(f"invalid enrolment request: {exc}") from exc
    try:
        answer = post_json(url, body, timeout_s=timeout_s)
    except TransportError as exc:
        raise EnrolmentError(str(exc)) from exc
    if answer.status in (200, 201):
        try:
            return msgspec.json.decode(answer.body, type=EnrolResponse)
        except msgspec.DecodeError as exc:
            raise EnrolmentError(f"unexpected answer from {url}: {exc}") from exc
    code, message = answer.error()
    if 400 <= answer.status < 500:
        raise EnrolmentRefused(code, message)
    raise EnrolmentError(f"{url} answered {answer.status} {code}: {message}")

"""Parsing requests and shaping responses for the API, and the route descriptions OpenAPI uses."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import msgspec
from flask import Response, request

from controller.errors import DomainError, Unauthenticated

T = TypeVar("T")

# A row's id as the API takes it: never a number the database cannot hold (SQLite and
# PostgreSQL stop at 2^63 - 1, and beyond it the driver fails, not the query).
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ROW_ID)]
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    body: type | None = None
    response: type | None = None
    status: int = 200
    auth: str = "none"  # "none" | "device" | "staff"
    errors: dict[int, str] = field(default_factory=dict)


def documented(summary: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach an OpenAPI description to a view; the OpenAPI test requires one on every route."""

    def attach(view: Callable[..., Any]) -> Callable[..., Any]:
        view.route_doc = RouteDoc(summary, **kwargs)  # type: ignore[attr-defined]
        return view

    return attach


def parse_body(type_: type[T], invalid_code: str = "invalid_request") -> T:
    """The request's JSON body as ``type_``, or a 4xx saying what is wrong.

    ``invalid_code`` names the error when the JSON is well-formed but not a valid ``type_``.
    """
    if not request.is_json:
        raise DomainError(
            "send the body as JSON with Content-Type: application/json",
            code="unsupported_media_type",
            status=415,
        )
    data = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before this returns
    try:
        return msgspec.json.decode(data, type=type_)
    except msgspec.ValidationError as exc:
        raise DomainError(f"invalid request: {exc}", code=invalid_code, status=422) from None
    except msgspec.DecodeError as exc:
        raise DomainError(f"malformed JSON: {exc}", code="malformed_json") from None


def query_row_id(name: str) -> int | None:
    """The query parameter ``name`` as a row id, None when absent, 400 when not one."""
    value = request.args.get(name)
    if not value:
        return None
    if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_ROW_ID:
        raise DomainError(f"{name} must be a row id (a whole number from 1), got {value[:40]!r}")
    return int(value)


def json_response(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status=status, mimetype="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": code, "message": message}, status)


def basic_credentials() -> tuple[str, str]:
    """(user, password) of HTTP Basic authentication, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthenticated(
            "authenticate with HTTP Basic: device id and secret", code="bad_credentials"
        )
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated(
            "the Authorization header is not valid Basic credentials", code="bad_credentials"
        ) from None
    if not sep:
        raise Unauthenticated(
            "Basic credentials need the form device_id:secret", code="bad_credentials"
        )
    return user, password

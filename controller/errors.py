"""The one error type of the controller's domain; adapters turn it into a 4xx."""

from __future__ import annotations

from flask_babel import LazyString


class DomainError(Exception):
    """Input or a request that cannot be honoured; ``message`` is for a person to act on."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str | LazyString,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        # Translated now, in the language of the request being answered (a lazy _l message),
        # or English where there is none (the command line).
        self.message = str(message)
        super().__init__(self.message)
        self.headers = headers or {}  # for instance WWW-Authenticate with a 401
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"

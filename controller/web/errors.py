"""Errors as people see them: JSON under /api, a page elsewhere. Nothing leaks a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from controller.api.io import error_response
from controller.errors import DomainError
from controller.i18n import _

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        if _wants_json():
            response = error_response(exc.status, exc.code, exc.message)
        else:
            page = render_template("error.html", status=exc.status, message=exc.message)
            response = Response(page, exc.status)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if status == 413:
            message = _(
                "the request body is larger than the %(size)s bytes this server accepts",
                size=app.config["MAX_CONTENT_LENGTH"],
            )
        if _wants_json():
            response = error_response(status, code, message)
        else:
            page = render_template("error.html", status=status, message=message)
            response = Response(page, status)
        # What the exception says besides its body: Allow with a 405, Retry-After with a 429 …
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        message = _("something went wrong on the server; the error is in its log")
        if _wants_json():
            return error_response(500, "internal_error", message)
        return render_template("error.html", status=500, message=message), 500

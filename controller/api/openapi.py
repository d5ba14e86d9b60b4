"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, built from the routes themselves.

Each API view carries a :class:`~controller.api.io.RouteDoc`; schemas come from the same msgspec
types that validate requests, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from flask import Blueprint, Flask, Response, current_app

from agent.protocol import PROTOCOL_VERSION, ErrorBody
from controller.api.io import RouteDoc, documented, json_response

openapi = Blueprint("openapi", __name__)

REF = "#/components/schemas/{name}"
SECURITY = {
    "device": [{"deviceBasic": []}],
    "staff": [{"staffSession": []}, {"staffToken": []}],
    "none": [],
}


@openapi.get("/openapi.json")
@documented("This OpenAPI document")
def openapi_document() -> Response:
    return json_response(build_openapi(current_app))


def _common_errors(doc: RouteDoc, method: str) -> dict[int, str]:
    """The refusals every operation of its kind may answer, whatever it does: so that the
    document lists every status a client can get (a route's own words take precedence)."""
    errors: dict[int, str] = {}
    if doc.auth != "none":
        errors[401] = "no credentials, or credentials refused"
    if doc.auth == "staff" and method not in ("get", "head"):
        errors[403] = "not allowed (a read-only API token changes nothing)"
    if doc.body is not None:
        errors[400] = "malformed JSON"
        errors[413] = "body too large"
        errors[415] = "body not sent as application/json"
        errors[422] = "body not valid for this operation"
    return errors


def build_openapi(app: Flask) -> dict[str, Any]:
    routes: list[tuple[str, str, str, RouteDoc]] = []
    operation_ids: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        doc: RouteDoc | None = getattr(app.view_functions[rule.endpoint], "route_doc", None)
        if doc is None:
            raise RuntimeError(f"API route {rule.rule} has no @documented description")
        # "api.fleet.list_devices" -> "list_devices": the view's name, whichever domain's
        # blueprint holds it, so operation ids stay what clients generated code from.
        view_name = rule.endpoint.rsplit(".", 1)[-1]
        if operation_ids.setdefault(view_name, rule.endpoint) != rule.endpoint:
            raise RuntimeError(
                f"two API views are named {view_name}: {operation_ids[view_name]} and "
                f"{rule.endpoint}; OpenAPI operation ids must be unique"
            )
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, method.lower(), view_name, doc))

    types = {ErrorBody}
    for _, _, _, doc in routes:
        types.update(t for t in (doc.body, doc.response) if t is not None)
    schemas_list, components = msgspec.json.schema_components(
        sorted(types, key=str), ref_template=REF
    )
    schema_of = dict(zip(sorted(types, key=str), schemas_list, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for path, method, view_name, doc in routes:
        openapi_path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)
        operation: dict[str, Any] = {
            "summary": doc.summary,
            "operationId": view_name,
            "security": SECURITY[doc.auth],
            "responses": {
                str(doc.status): {
                    "description": "success",
                    **(
                        {"content": {"application/json": {"schema": schema_of[doc.response]}}}
                        if doc.response is not None
                        else {}
                    ),
                },
                **{
                    str(code): {
                        "description": text,
                        "content": {"application/json": {"schema": schema_of[ErrorBody]}},
                    }
                    for code, text in sorted({**_common_errors(doc, method), **doc.errors}.items())
                },
            },
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{([a-z_]+)\}", openapi_path)
        ]
        if parameters:
            operation["parameters"] = parameters
        if doc.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[doc.body]}},
            }
        paths.setdefault(openapi_path, {})[method] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "borne controller API",
            "version": f"1.{PROTOCOL_VERSION}",
            "description": "Public digital access points: public PCs, charging kiosks, hotspots.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "deviceBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "device id and device secret from enrolment",
                },
                "staffSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "the web session of a signed-in member of staff",
                },
                "staffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "a personal API token (bat_…), made on the My API tokens page or with "
                        "`borne controller api-token create`; a read-only one may only GET"
                    ),
                },
            },
        },
    }

"""The OpenAPI document describes every /api/v1 route, with schemas from the validating types."""

from __future__ import annotations

import re


def test_every_api_route_is_in_the_document(app, client):
    document = client.get("/api/v1/openapi.json").get_json()

    routes = {
        (re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented
    assert document["openapi"].startswith("3.1")


def test_request_schemas_refuse_unknown_fields_as_the_api_does(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    enrol = document["paths"]["/api/v1/enrol"]["post"]
    ref = enrol["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request_schema = schemas[ref.rsplit("/", 1)[1]]
    assert request_schema["additionalProperties"] is False
    assert {"token", "kind", "inventory"} <= set(request_schema["required"])
    assert "409" in enrol["responses"] and "410" in enrol["responses"]


def test_every_reference_resolves(client):
    document = client.get("/api/v1/openapi.json").get_json()
    text = str(document)
    for name in re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", text):
        assert name in document["components"]["schemas"], name

"""Request parsing of the API (controller/api/io.py): bad bodies get a clear 4xx, unknown
routes JSON."""

from __future__ import annotations

import json


def test_malformed_json_is_refused(client, db):
    response = client.post("/api/v1/enrol", data=b'{"token": ', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed_json"


def test_non_json_body_is_refused(client):
    response = client.post("/api/v1/enrol", data="token=x")
    assert response.status_code == 415
    assert "application/json" in response.get_json()["message"]


def test_oversized_body_is_refused(client, app):
    huge = json.dumps({"token": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    response = client.post("/api/v1/enrol", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert "larger than" in response.get_json()["message"]


def test_unknown_api_route_answers_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"

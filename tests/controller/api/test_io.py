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


def test_a_method_the_route_does_not_take_gets_405_with_allow(client):
    response = client.delete("/api/v1/devices")

    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}


def test_an_id_beyond_what_the_database_holds_is_refused_not_a_server_error(client, db):
    from controller.access import Role
    from controller.accounts import api_tokens
    from tests.factories import make_user

    admin = make_user(db, Role.ADMIN)
    _, token = api_tokens.create_token(db, admin, admin, name="test")
    headers = {"Authorization": f"Bearer {token}"}

    body = client.post("/api/v1/enrolment-tokens", json={"site_id": 2**80}, headers=headers)
    query = client.get(f"/api/v1/commands?site_id={2**80}", headers=headers)
    path = client.put(f"/api/v1/sites/{2**80}/session-limits", json={}, headers=headers)

    assert body.status_code == 422 and "site_id" in body.get_json()["message"]
    assert query.status_code == 400 and "row id" in query.get_json()["message"]
    assert path.status_code == 404

"""Staff API for alert rules (controller/maintenance/rules_api.py): read the defaults and the
rules in force, tune an organisation's, and a malformed rule is a clear 4xx that changes nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from controller.access import Role
from controller.audit import AuditLog
from controller.maintenance.models import AlertRuleOverride
from tests.controller.testkit import sign_in
from tests.factories import make_organisation, make_site, make_user

RULE = "/api/v1/organisations/{org}/alert-rules/{kind}"


@pytest.fixture
def app(make_app) -> Flask:
    made: Flask = make_app()
    return made


def overrides(db) -> list[tuple[int, str, float | None, int, bool]]:
    return [
        (o.organisation_id, o.kind, o.threshold, o.tolerance_min, o.enabled)
        for o in db.scalars(select(AlertRuleOverride).order_by(AlertRuleOverride.id))
    ]


def test_admin_reads_the_defaults_and_every_organisations_rules(client, db):
    organisation = make_organisation(db, name="Médiathèques")
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/api/v1/alert-rules")

    assert answer.status_code == 200
    body = answer.get_json()
    defaults = {d["kind"]: d for d in body["defaults"]}
    assert defaults["cpu_high"] | {"meaning": ""} == {
        "kind": "cpu_high",
        "threshold": 90.0,
        "tolerance_min": 30,
        "unit": "percent",
        "threshold_min": 0.0,
        "threshold_max": 100.0,
        "meaning": "",
    }
    assert defaults["cpu_high"]["meaning"]
    assert (defaults["disk_full"]["threshold"], defaults["disk_full"]["tolerance_min"]) == (90, 0)
    assert defaults["offline"]["threshold"] is None and defaults["offline"]["unit"] is None
    assert "wipe_incomplete" not in defaults
    (mine,) = [o for o in body["organisations"] if o["organisation_id"] == organisation.id]
    assert mine["organisation"] == "Médiathèques"
    assert {r["kind"] for r in mine["rules"]} == set(defaults)
    assert not any(r["overridden"] for r in mine["rules"])


def test_admin_puts_an_override_reads_it_back_and_deletes_it(client, db):
    organisation = make_organisation(db)
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)
    path = RULE.format(org=organisation.id, kind="memory_high")

    put = client.put(path, json={"threshold": 85, "tolerance_min": 10})
    listed = client.get("/api/v1/alert-rules").get_json()

    assert put.status_code == 200
    assert put.get_json() == {
        "kind": "memory_high",
        "threshold": 85.0,
        "tolerance_min": 10,
        "enabled": True,
        "overridden": True,
    }
    (mine,) = [o for o in listed["organisations"] if o["organisation_id"] == organisation.id]
    assert {r["kind"]: r for r in mine["rules"]}["memory_high"] == put.get_json()
    assert overrides(db) == [(organisation.id, "memory_high", 85.0, 10, True)]

    deleted = client.delete(path)

    assert deleted.status_code == 200 and deleted.get_json()["overridden"] is False
    assert (deleted.get_json()["threshold"], deleted.get_json()["tolerance_min"]) == (95.0, 30)
    assert overrides(db) == []
    actions = db.scalars(select(AuditLog.action).where(AuditLog.actor_id == admin.id)).all()
    assert [a for a in actions if a.startswith("alert_rule.")] == [
        "alert_rule.set",
        "alert_rule.clear",
    ]


def test_a_technician_tunes_the_organisations_they_cover_only(client, db):
    theirs, other = make_organisation(db), make_organisation(db)
    sign_in(client, make_user(db, Role.TECHNICIAN, organisations=[theirs]))

    allowed = client.put(RULE.format(org=theirs.id, kind="offline"), json={"tolerance_min": 20})
    refused = client.put(RULE.format(org=other.id, kind="offline"), json={"tolerance_min": 20})
    listed = client.get("/api/v1/alert-rules").get_json()

    assert allowed.status_code == 200
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert [o["organisation_id"] for o in listed["organisations"]] == [theirs.id]
    assert overrides(db) == [(theirs.id, "offline", None, 20, True)]


def test_a_mediator_reads_the_rules_of_their_site_but_tunes_nothing(client, db):
    organisation = make_organisation(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[make_site(db, organisation)]))

    listed = client.get("/api/v1/alert-rules").get_json()
    put = client.put(RULE.format(org=organisation.id, kind="offline"), json={"tolerance_min": 5})
    delete = client.delete(RULE.format(org=organisation.id, kind="offline"))

    assert [o["organisation_id"] for o in listed["organisations"]] == [organisation.id]
    assert put.status_code == 403 and delete.status_code == 403
    assert overrides(db) == []


def test_a_rule_can_be_turned_off(client, db):
    organisation = make_organisation(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.put(
        RULE.format(org=organisation.id, kind="printer_error"),
        json={"tolerance_min": 10, "enabled": False},
    )

    assert answer.status_code == 200 and answer.get_json()["enabled"] is False
    assert overrides(db) == [(organisation.id, "printer_error", None, 10, False)]


@pytest.mark.parametrize(
    ("kind", "body", "status", "error"),
    [
        ("cpu_high", {"threshold": 150, "tolerance_min": 10}, 422, "invalid_alert_rule"),
        ("cpu_high", {"threshold": -3, "tolerance_min": 10}, 422, "invalid_alert_rule"),
        ("cpu_high", {"threshold": 80, "tolerance_min": -1}, 422, "invalid_request"),
        ("cpu_high", {"threshold": 80, "tolerance_min": 10**9}, 422, "invalid_request"),
        ("cpu_high", {"threshold": "high", "tolerance_min": 10}, 422, "invalid_request"),
        ("cpu_high", {"threshold": 80}, 422, "invalid_request"),  # no tolerance
        ("cpu_high", {"tolerance_min": 10, "colour": "red"}, 422, "invalid_request"),
        ("offline", {"threshold": 5, "tolerance_min": 10}, 422, "invalid_alert_rule"),
        ("clock_off", {"threshold": 0, "tolerance_min": 0}, 422, "invalid_alert_rule"),
        ("cpu_hot", {"tolerance_min": 10}, 404, "no_such_alert_rule"),
        ("wipe_incomplete", {"tolerance_min": 10}, 404, "no_such_alert_rule"),
    ],
)
def test_a_malformed_rule_is_a_clear_4xx_and_changes_nothing(client, db, kind, body, status, error):
    organisation = make_organisation(db)
    sign_in(client, make_user(db, Role.ADMIN))
    audited = db.scalar(select(func.count()).select_from(AuditLog))

    answer = client.put(RULE.format(org=organisation.id, kind=kind), json=body)

    assert answer.status_code == status
    assert answer.get_json()["error"] == error and answer.get_json()["message"]
    assert overrides(db) == []
    assert db.scalar(select(func.count()).select_from(AuditLog)) == audited


def test_malformed_json_and_unknown_organisations_are_refused(client, db):
    organisation = make_organisation(db)
    sign_in(client, make_user(db, Role.ADMIN))

    garbled = client.put(
        RULE.format(org=organisation.id, kind="cpu_high"),
        data="{tolerance_min: 3",
        content_type="application/json",
    )
    unknown = client.put(RULE.format(org=987654, kind="cpu_high"), json={"tolerance_min": 3})
    zero = client.put(RULE.format(org=0, kind="cpu_high"), json={"tolerance_min": 3})
    huge = client.delete(RULE.format(org=10**20, kind="cpu_high"))  # more than a row id holds

    assert garbled.status_code == 400 and garbled.get_json()["error"] == "malformed_json"
    assert unknown.status_code == zero.status_code == huge.status_code == 404
    assert overrides(db) == []


def test_the_rules_need_a_signed_in_member_of_staff(client, db):
    organisation = make_organisation(db)

    assert client.get("/api/v1/alert-rules").status_code == 401
    path = RULE.format(org=organisation.id, kind="cpu_high")
    assert client.put(path, json={"tolerance_min": 3}).status_code == 401
    assert overrides(db) == []


def test_the_alert_rule_routes_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()

    assert "get" in document["paths"]["/api/v1/alert-rules"]
    operations = document["paths"]["/api/v1/organisations/{org_id}/alert-rules/{kind}"]
    assert {"put", "delete"} <= set(operations)
    assert {"403", "404", "422"} <= set(operations["put"]["responses"])

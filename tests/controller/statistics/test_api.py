"""The statistics API (/api/v1/statistics…): the dashboard's figures for admins and managers,
their own places only, small counts null; bad input is a clear 4xx naming what is wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.access import Role
from tests.controller.statistics.conftest import START
from tests.controller.testkit import sign_in
from tests.factories import make_organisation, make_site, make_user

WEEK = {"from": "2026-11-02", "to": "2026-11-08"}


@pytest.fixture
def usage(generate_usage, local, policy, db):
    from controller.statistics import rollups

    made = generate_usage(days=7)
    tally = rollups.Tally(local)
    rollups.add_open_hours(db, tally, START - timedelta(days=1), START + timedelta(days=9), policy)
    tally.write(db)
    return made


def test_a_manager_reads_the_figures_of_the_sites_they_cover(client, db, usage):
    elsewhere = make_site(db, make_organisation(db), name="Ailleurs")
    sign_in(client, make_user(db, Role.MANAGER, organisations=[usage.organisation]))

    answer = client.get("/api/v1/statistics", query_string=WEEK)

    assert answer.status_code == 200, answer.json
    body = answer.json
    assert {s["site"] for s in body["sites"]} == {"Bibliothèque Centre", "MDH Mistral"}
    assert elsewhere.name not in str(body)
    assert body["totals"]["pc_sessions"] == sum(s["pc_sessions"] for s in body["sites"]) > 0
    assert len(body["days"]) == 7
    assert body["week"]["cells"], "opening hours of the week"
    occupancies = [s["occupancy"] for s in body["sites"]]
    assert occupancies == sorted(occupancies, reverse=True)  # ranked, busiest first


def test_a_site_s_devices_have_their_small_counts_null(client, db, usage):
    sign_in(client, make_user(db, Role.ADMIN))
    site = usage.sites[1]

    answer = client.get("/api/v1/statistics/devices", query_string={**WEEK, "site": site.id})

    assert answer.status_code == 200
    devices = {d["name"]: d for d in answer.json}
    assert set(devices) == {"pc-1-0", "pc-1-1", "wifi-1"}
    for name in ("pc-1-0", "pc-1-1"):
        assert devices[name]["pc_sessions"] is None or devices[name]["pc_sessions"] >= 5


def test_the_week_never_shows_a_count_under_five(client, db, usage):
    sign_in(client, make_user(db, Role.ADMIN))
    answer = client.get(
        "/api/v1/statistics/week", query_string={"from": "2026-11-03", "to": "2026-11-03"}
    )
    cells = answer.json["cells"]
    assert cells
    assert all(c["sessions"] is None or c["sessions"] >= 5 for c in cells)
    assert answer.json["hidden"] != 1  # never a single hidden cell a total would give back


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ({"from": "2026-11-08", "to": "2026-11-02"}, 422, "before it starts"),
        ({"from": "2026-02-30"}, 400, "from must be a day as YYYY-MM-DD"),
        ({"from": "yesterday"}, 400, "from must be a day"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, 422, "at most"),
        ({"site": "999999"}, 404, "no site 999999"),
        ({"site": "-3"}, 400, "site must be a row id"),
        ({"organisation": "999999"}, 404, "no organisation 999999"),
        ({"organisation": "abc"}, 400, "organisation must be a row id"),
    ],
)
def test_bad_input_is_a_clear_4xx(client, db, query, status, words):
    sign_in(client, make_user(db, Role.ADMIN))
    answer = client.get("/api/v1/statistics", query_string=query)
    assert answer.status_code == status
    assert words in answer.json["message"]


def test_places_outside_a_manager_s_scope_are_refused(client, db, usage):
    other = make_organisation(db, name="Autre réseau")
    their_site = make_site(db, other, name="Leur site")
    sign_in(client, make_user(db, Role.MANAGER, organisations=[usage.organisation]))

    by_organisation = client.get("/api/v1/statistics", query_string={"organisation": other.id})
    by_site = client.get("/api/v1/statistics", query_string={"site": their_site.id})
    mixed = client.get(
        "/api/v1/statistics",
        query_string={"organisation": usage.organisation.id, "site": their_site.id},
    )

    assert by_organisation.status_code == 403
    assert "Autre réseau is outside the places you cover" in by_organisation.json["message"]
    assert by_site.status_code == 403
    assert mixed.status_code == 403


def test_a_site_of_another_organisation_than_the_one_named_is_refused(client, db, usage):
    other_site = make_site(db, make_organisation(db))
    sign_in(client, make_user(db, Role.ADMIN))
    answer = client.get(
        "/api/v1/statistics",
        query_string={"organisation": usage.organisation.id, "site": other_site.id},
    )
    assert answer.status_code == 422
    assert "is not a place of" in answer.json["message"]


@pytest.mark.parametrize("role", [Role.MEDIATOR, Role.TECHNICIAN])
def test_other_roles_do_not_read_statistics(client, db, usage, role):
    sign_in(client, make_user(db, role, organisations=[usage.organisation]))
    answer = client.get("/api/v1/statistics")
    assert answer.status_code == 403
    assert "may not read the statistics" in answer.json["message"]


def test_the_statistics_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/statistics", "/statistics/sites", "/statistics/days", "/statistics/week"):
        assert f"/api/v1{path}" in paths or path in paths

"""The managers' dashboard (controller/statistics/web.py): its tables and charts' data, the CSV
files (formula-safe), the site page's panel, the navigation entry for managers and admins only,
and the monthly PDF report rendered by WeasyPrint and read back."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from controller.access import Role
from controller.statistics import report, rollups
from tests.controller.statistics.conftest import START
from tests.controller.testkit import page_text, sign_in, words
from tests.factories import make_site, make_user

WEEK = {"from": "2026-11-02", "to": "2026-11-08"}
FRENCH = {"Accept-Language": "fr"}


@pytest.fixture
def usage(generate_usage, local, policy, db):
    made = generate_usage(days=7)
    tally = rollups.Tally(local)
    rollups.add_open_hours(db, tally, START - timedelta(days=1), START + timedelta(days=9), policy)
    tally.write(db)
    return made


@pytest.fixture
def manager(db, client, usage):
    user = make_user(db, Role.MANAGER, organisations=[usage.organisation])
    sign_in(client, user)
    return user


def test_the_dashboard_ranks_the_sites_with_a_table_beside_each_chart(client, manager, usage):
    answer = client.get("/statistics", query_string=WEEK, headers=FRENCH)

    assert answer.status_code == 200
    text = words(answer)
    assert "Lieux côte à côte" in text
    data = json.loads(
        re.search(r'id="stats-data">(.*?)</script>', page_text(answer), re.S).group(1)
    )
    ranked = data["sites"]["labels"]
    table = re.search(r'id="table-sites".*?</table>', page_text(answer), re.S).group(0)
    assert [name for name in ranked] == re.findall(
        r"<th scope=\"row\">\d+</th><td>([^<]+)</td>", table
    )
    for canvas in re.findall(r"<canvas[^>]*>", page_text(answer)):
        assert 'role="img"' in canvas and "aria-label" in canvas
    assert "vendor/chart.js/chart.umd.min.js" in page_text(answer)


def test_the_csv_files_hold_the_tables_and_run_no_formula(client, db, manager, usage):
    usage.sites[0].name = '=HYPERLINK("http://evil")'
    db.flush()

    answer = client.get("/statistics/sites.csv", query_string=WEEK)

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0][:3] == ["Rank", "Site", "Organisation"]
    assert '\'=HYPERLINK("http://evil")' in [row[1] for row in rows[1:]]
    for table in ("days", "week", "ended"):
        assert client.get(f"/statistics/{table}.csv", query_string=WEEK).status_code == 200
    assert client.get("/statistics/nothing.csv").status_code == 404


def test_the_week_csv_shows_small_counts_as_less_than_five(client, manager, usage):
    answer = client.get(
        "/statistics/week.csv", query_string={"from": "2026-11-03", "to": "2026-11-03"}
    )
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))[1:]
    assert rows
    for _day, _hour, sessions, _occupancy in rows:
        assert sessions == "< 5" or int(sessions) >= 5


def test_a_site_s_devices_are_listed_on_its_own_dashboard(client, manager, usage):
    site = usage.sites[0]
    answer = client.get("/statistics", query_string={**WEEK, "site": site.id})
    text = words(answer)
    assert f"The devices of {site.name}" in text
    assert "pc-0-0" in text and "kiosk" in text


def test_the_navigation_leads_managers_and_admins_there_only(client, db, usage):
    sign_in(client, make_user(db, Role.ADMIN))
    assert 'href="/statistics"' in page_text(client.get("/sites"))
    client.post("/logout", data={})
    other = client.application.test_client()
    sign_in(other, make_user(db, Role.MEDIATOR, organisations=[usage.organisation]))
    assert 'href="/statistics"' not in page_text(other.get("/sites"))
    assert other.get("/statistics").status_code == 403


def test_the_site_page_has_a_panel_leading_to_its_statistics(client, manager, usage):
    site = usage.sites[0]
    answer = client.get(f"/sites/{site.id}")
    assert answer.status_code == 200
    assert "Statistics of the last 30 days" in words(answer)
    assert f"/statistics?site={site.id}" in page_text(answer)


def test_a_bad_period_is_said_on_the_page(client, manager):
    answer = client.get("/statistics", query_string={"from": "2026-11-08", "to": "2026-11-01"})
    assert answer.status_code == 422
    assert "period ends on 2026-11-01, before it starts on 2026-11-08" in words(answer)


def test_the_monthly_report_is_a_pdf_whose_first_page_tells_the_month(client, manager, usage):
    answer = client.get(
        "/statistics/report.pdf",
        query_string={"organisation": usage.organisation.id, "month": "2026-11"},
        headers=FRENCH,
    )

    assert answer.status_code == 200, words(answer)[:500]
    assert answer.mimetype == "application/pdf"
    first_page = PdfReader(io.BytesIO(answer.data)).pages[0].extract_text()
    assert "Rapport mensuel" in first_page
    assert usage.organisation.name in first_page
    assert "MDH Mistral" in first_page and "Bibliothèque" in first_page
    assert "novembre" in first_page


def test_the_report_says_plainly_when_weasyprint_is_missing():
    with pytest.raises(report.ReportUnavailable, match="apt install weasyprint"):
        report.render_pdf("<p>x</p>", command="weasyprint-not-installed-here")


def test_a_report_needs_an_organisation_the_manager_covers(client, db, manager):
    from tests.factories import make_organisation

    other = make_organisation(db)
    make_site(db, other)
    assert client.get("/statistics/report.pdf").status_code == 400
    refused = client.get("/statistics/report.pdf", query_string={"organisation": other.id})
    assert refused.status_code == 403

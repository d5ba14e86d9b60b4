"""A site's opening hours in plain words (controller/places/hours.py): a week of days and times,
the OpenStreetMap syntax only in the edit field, previewed on the next seven days."""

from __future__ import annotations

from datetime import date, time

from controller.access import Role
from controller.places.models import Site
from controller.places.opening_hours import opening_week
from tests.controller.testkit import audit_actions, csrf_token, page_text, sign_in
from tests.factories import make_site, make_user

HOURS = "Tu-Sa 10:00-12:00,14:00-18:00; Su 10:00-24:00; PH off"


def test_a_week_says_each_days_hours_and_public_holidays_close():
    week = opening_week(HOURS, date(2026, 12, 21))  # Monday; Friday the 25th is Christmas

    assert week[0].day == date(2026, 12, 21)
    assert week[0].ranges == ()  # Monday: closed
    assert week[1].ranges == ((time(10), time(12)), (time(14), time(18)))
    assert week[4].ranges == ()  # Christmas Day, a public holiday
    assert week[6].ranges == ((time(10), time(0)),)  # Sunday until midnight


def test_the_preview_shows_the_next_seven_days_and_saves_nothing(client, db):
    site = make_site(db, opening_hours="")
    sign_in(client, make_user(db, Role.ADMIN))

    preview = client.post(
        f"/sites/{site.id}/hours",
        data={
            "opening_hours": "Mo-Fr 09:00-17:00",
            "preview": "y",
            "csrf_token": csrf_token(client, f"/sites/{site.id}/hours"),
        },
    )

    assert preview.status_code == 200
    text = page_text(preview)
    assert "09:00\N{EN DASH}17:00" in text and "closed" in text
    db.refresh(site)
    assert site.opening_hours == ""


def test_saving_hours_changes_the_site_and_is_audited(client, db):
    site = make_site(db, opening_hours="")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

    saved = client.post(
        f"/sites/{site.id}/hours",
        data={
            "opening_hours": "Tu-Sa   10:00-18:00",
            "submit": "y",
            "csrf_token": csrf_token(client, f"/sites/{site.id}/hours"),
        },
    )

    assert saved.status_code == 302
    db.expire_all()
    assert db.get(Site, site.id).opening_hours == "Tu-Sa 10:00-18:00"
    assert "site.hours" in audit_actions(db, admin)


def test_hours_not_in_osm_syntax_are_refused_with_a_hint_and_kept_in_the_field(client, db):
    site = make_site(db, opening_hours="Mo 10:00-12:00")
    sign_in(client, make_user(db, Role.ADMIN))

    refused = client.post(
        f"/sites/{site.id}/hours",
        data={
            "opening_hours": "mardi 10h-18h",
            "submit": "y",
            "csrf_token": csrf_token(client, f"/sites/{site.id}/hours"),
        },
    )

    assert refused.status_code == 400
    text = page_text(refused)
    assert "write times as 10:00, not 10h" in text and "mardi 10h-18h" in text
    db.expire_all()
    assert db.get(Site, site.id).opening_hours == "Mo 10:00-12:00"


def test_a_mediator_may_not_change_hours(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    assert client.get(f"/sites/{site.id}/hours").status_code == 403


def test_the_week_reads_in_french(client, db):
    site = make_site(db, opening_hours="Mo-Su 10:00-18:00")
    sign_in(client, make_user(db, Role.ADMIN))

    page = page_text(client.get(f"/sites/{site.id}/hours", headers={"Accept-Language": "fr"}))

    assert "Horaires d'ouverture" in page
    assert any(day in page for day in ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi"))

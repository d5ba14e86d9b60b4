"""A site's page (controller/places/web.py): its facts, its schedule panel and closures."""

from __future__ import annotations

from sqlalchemy import select

from controller.access import Role
from controller.places.models import SiteClosure
from tests.controller.testkit import csrf_token, sign_in
from tests.factories import make_device, make_site, make_user


def test_site_page_shows_address_hours_and_services(client, db):
    site = make_site(
        db, address="10 rue de la République", services=["Wifi"], opening_hours="Tu-Sa 10:00-18:00"
    )
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/sites/{site.id}").get_data(as_text=True)

    assert "10 rue de la République" in page and "Wifi" in page
    # The hours as a week in words; their OpenStreetMap syntax is for the edit page only.
    assert "10:00\N{EN DASH}18:00" in page and "Tu-Sa 10:00-18:00" not in page


def test_site_page_shows_the_week_plan_and_an_admin_adds_a_closure(client, db):
    site = make_site(db, opening_hours="Mo-Su 10:00-18:00")
    make_device(db, site)
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "Schedule, next 7 days" in page and "Wake the PCs" in page
    answer = client.post(
        f"/sites/{site.id}/closures",
        data={
            "starts_on": "2099-01-01",
            "ends_on": "2099-01-03",
            "reason": "inventaire",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
    )

    assert answer.status_code == 302
    assert db.scalars(select(SiteClosure)).one().reason == "inventaire"
    assert "01 Jan 2099 to 03 Jan 2099: inventaire" in client.get(f"/sites/{site.id}").get_data(
        as_text=True
    )


def test_a_closure_ending_before_it_starts_is_explained_and_not_stored(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))
    answer = client.post(
        f"/sites/{site.id}/closures",
        data={
            "starts_on": "2099-01-03",
            "ends_on": "2099-01-01",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
    )
    assert answer.status_code == 400 and "cannot end" in answer.get_data(as_text=True)
    assert db.scalars(select(SiteClosure)).all() == []


def test_a_mediator_sees_the_plan_but_may_not_close_a_site(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    page = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "Exceptional closures" in page and "Close these days" not in page
    answer = client.post(
        f"/sites/{site.id}/closures",
        data={
            "starts_on": "2099-01-01",
            "ends_on": "2099-01-03",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
    )
    assert answer.status_code == 403
    assert db.scalars(select(SiteClosure)).all() == []

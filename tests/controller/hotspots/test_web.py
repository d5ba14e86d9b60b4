"""Hotspots on the staff pages: the "Wifi portal" section of a hotspot's page, its form for those
who may change it, and the code of the day for everyone who sees the hotspot."""

from __future__ import annotations

from sqlalchemy import select

from agent.protocol import PortalModeName
from controller.access import Role
from controller.commands.models import Command
from controller.db import utcnow
from controller.hotspots import service as hotspot_portal
from controller.hotspots.models import HotspotPortal
from tests.controller.testkit import TIMEZONE, csrf_token, page_text, sign_in, words
from tests.factories import make_hotspot, make_site, make_user


def todays_code(db, hotspot) -> str:
    config = hotspot_portal.portal_config(db, hotspot)
    code = hotspot_portal.code_of_the_day(config, TIMEZONE, utcnow())
    assert code is not None
    return code


def post_portal(client, hotspot, **fields):
    data = {"mode": "click", "follow_site_hours": "y", "session_min": "240", **fields}
    data["csrf_token"] = csrf_token(client, f"/devices/{hotspot.id}")
    return client.post(f"/devices/{hotspot.id}/portal", data=data)


def test_admin_sets_code_mode_and_the_page_shows_the_code(client, db):
    hotspot = make_hotspot(db, name="gw-accueil")
    sign_in(client, make_user(db, Role.ADMIN))

    answer = post_portal(client, hotspot, mode="code", session_min="90")

    assert answer.status_code == 302 and answer.headers["Location"].endswith("#portal")
    issued = db.scalars(select(Command)).one()
    assert issued.device_id == hotspot.id and issued.args["portal_mode"] == "code"
    page = client.get(f"/devices/{hotspot.id}")
    text = words(page)
    assert "Wifi portal settings saved and sent to gw-accueil." in text
    assert f'<p class="day-code-value">{todays_code(db, hotspot)}</p>' in page_text(page)
    assert "How residents connect Code of the day: Residents type a 6-digit code" in text
    assert "Each connection lasts 90 minutes" in text
    assert "On the hotspot on its way: until the hotspot takes them" in text


def test_unticked_box_opens_the_portal_at_all_hours(client, db):
    hotspot = make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))

    post_portal(client, hotspot, follow_site_hours="")

    assert db.get(HotspotPortal, hotspot.id).follow_site_hours is False
    assert "Opening hours none: open at all hours" in words(client.get(f"/devices/{hotspot.id}"))


def test_bad_length_is_explained_the_input_kept_and_nothing_sent(client, db):
    hotspot = make_hotspot(db, mode=PortalModeName.CLICK)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = post_portal(client, hotspot, mode="closed", session_min="5")

    page = page_text(answer)
    assert answer.status_code == 400
    assert "a connection must last between 15 and 1440 minutes" in page
    assert (
        'value="5"' in page
        and 'checked id="mode-2" name="mode" type="radio" value="closed"' in page
    )
    assert db.get(HotspotPortal, hotspot.id).mode == "click"
    assert db.scalars(select(Command)).all() == []


def test_missing_length_is_explained(client, db):
    hotspot = make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = post_portal(client, hotspot, session_min="")

    assert answer.status_code == 400
    assert "Give how long a connection lasts, in minutes." in page_text(answer)


def test_mediator_sees_the_code_on_the_hotspot_and_site_pages_but_no_form(client, db):
    site = make_site(db)
    hotspot = make_hotspot(db, site, name="gw-accueil", mode=PortalModeName.CODE)
    make_hotspot(db, site, name="gw-jardin", mode=PortalModeName.CLICK)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    code = todays_code(db, hotspot)

    device_page = client.get(f"/devices/{hotspot.id}")
    site_page = words(client.get(f"/sites/{site.id}"))

    assert code in page_text(device_page)
    assert f"/devices/{hotspot.id}/portal" not in page_text(device_page)
    assert f"gw-accueil Wifi hotspot Code of the day: {code}" in site_page
    assert site_page.count("Code of the day:") == 1  # not beside the one-tap hotspot


def test_mediator_posting_the_form_anyway_is_refused(client, db):
    site = make_site(db)
    hotspot = make_hotspot(db, site, mode=PortalModeName.CODE)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    answer = post_portal(client, hotspot, mode="click")

    assert answer.status_code == 403
    assert "a mediator may not manage places" in page_text(answer)
    assert db.get(HotspotPortal, hotspot.id).mode == "code"


def test_hotspot_never_set_from_here_says_so(client, db):
    hotspot = make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get(f"/devices/{hotspot.id}"))

    assert "Not set from here yet: the hotspot follows its own settings file" in text
    assert "Code of the day" in text  # among the form's choices

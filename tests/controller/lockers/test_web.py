"""Charging kiosks' lockers on the staff pages (controller/lockers/web.py): a kiosk's page shows
its lockers (state, door, since when — never a code) and, to admins and technicians, the form
that opens one with a reason; a site's page says how many lockers are free; the fleet flags a
kiosk with a locker needing staff. Read in French as staff read them, and on a phone's width as
far as markup can tell (the Chromium test in test_browser.py measures it)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from agent import protocol
from agent.protocol import CommandName, LockerIncidentKind, LockerState
from controller.access import Role
from controller.audit import AuditLog
from controller.commands.models import Command
from controller.db import utcnow
from controller.fleet.models import DeviceStatus
from controller.lockers.models import Locker
from tests.controller.testkit import audit_actions, csrf_token, page_text, sign_in, words
from tests.factories import make_device, make_site, make_user

FRENCH = {"Accept-Language": "fr"}
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def kiosk(make_kiosk, send_events, lockers_report):
    """A kiosk online, "borne-hall", that reported its eight lockers a minute ago: the first
    two charge a phone, the third is past its time, the eighth out of order."""
    found = make_kiosk(name="borne-hall", status=DeviceStatus.ONLINE)
    send_events(
        found,
        lockers_report(
            1,
            utcnow() - timedelta(minutes=1),
            n1=LockerState.OCCUPIED,
            n2=LockerState.OCCUPIED,
            n3=LockerState.OVERTIME,
            n8=LockerState.OUT_OF_ORDER,
        ),
    )
    return found


def lockers_section(answer) -> str:
    found = re.search(
        r'<section aria-labelledby="lockers-title".*?</section>', page_text(answer), re.S
    )
    assert found, "no lockers panel"
    return found.group(0)


def open_form(client, kiosk, **fields):
    data = {"csrf_token": csrf_token(client, f"/devices/{kiosk.id}"), **fields}
    return client.post(f"/devices/{kiosk.id}/lockers/open", data=data)


def command_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Command))


def test_a_kiosks_page_shows_its_lockers_in_french_and_never_a_code(client, db, kiosk):
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[kiosk.site]))

    answer = client.get(f"/devices/{kiosk.id}", headers=FRENCH)

    text = words(answer)
    assert "Casiers 4 casiers libres sur 8" in text
    assert "Tels que la borne les a signalés il y a" in text
    section = re.sub(r"<[^>]+>", " ", lockers_section(answer))
    cards = " ".join(section.split())
    assert "Casier 3 Temps dépassé : personnel seulement porte fermée · depuis" in cards
    assert "Casier 1 Téléphone en charge" in cards and "Casier 8 Hors service" in cards
    assert "Casier 4 Libre porte fermée" in cards
    # A mediator opens a locker at the kiosk with their PIN: no form here.
    assert "Ouvrir un casier d\u2019ici" not in text
    assert "code" not in section.lower()


def test_when_a_locker_entered_its_state_reads_in_the_citys_time(client, db, kiosk):
    sign_in(client, make_user(db, Role.ADMIN))
    locker = db.get(Locker, (kiosk.id, 3))

    section = lockers_section(client.get(f"/devices/{kiosk.id}", headers=FRENCH))

    assert f"depuis {locker.since.astimezone(PARIS):%H:%M}" in section
    assert f'datetime="{locker.since.isoformat()}"' in section


def test_admins_see_the_form_that_opens_a_locker_in_french(client, db, kiosk):
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[kiosk.site]))

    section = lockers_section(client.get(f"/devices/{kiosk.id}", headers=FRENCH))

    assert "Ouvrir un casier d\u2019ici" in section and "Pourquoi vous l\u2019ouvrez" in section
    # The usual case comes chosen: the phone past its time.
    assert '<option value="3" selected>Casier 3 — Temps dépassé : personnel seulement</option>' in (
        section
    )
    assert '<option value="1">Casier 1 — Téléphone en charge</option>' in section
    assert 'name="reason"' in section and "required" in section
    assert "Gardé dans le journal d\u2019audit avec votre nom." in section


def test_a_locker_opened_from_the_page_is_sent_and_audited(client, db, kiosk):
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

    answer = open_form(client, kiosk, locker="3", reason="owner at the desk with their ticket")

    assert answer.status_code == 302 and answer.headers["Location"].endswith("#lockers")
    command = db.scalars(select(Command)).one()
    assert command.name == CommandName.OPEN_LOCKER and command.device_id == kiosk.id
    assert command.args == {
        "locker": 3,
        "staff": admin.username,
        "reason": "owner at the desk with their ticket",
    }
    assert "locker.open_requested" in audit_actions(db, admin)
    page = words(client.get(answer.headers["Location"]))
    assert "Opening of locker 3 sent to borne-hall. Follow it under Recent commands." in page


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        (
            {"locker": "99", "reason": "jammed"},
            404,
            "borne-hall has no locker 99: its lockers are 1 to 8",
        ),
        ({"locker": "0", "reason": "jammed"}, 404, "borne-hall has no locker 0"),
        (
            {"locker": "3", "reason": "  "},
            422,
            "say why you open the locker: the audit log keeps it",
        ),
        ({"locker": "3"}, 422, "say why you open the locker"),
        ({"locker": "third", "reason": "jammed"}, 400, "Choose the locker to open in the list."),
    ],
)
def test_a_refused_opening_says_why_beside_the_form_and_sends_nothing(
    client, db, kiosk, fields, status, said
):
    sign_in(client, make_user(db, Role.ADMIN))

    answer = open_form(client, kiosk, **fields)

    assert answer.status_code == status
    section = lockers_section(answer)
    assert said in section and 'role="alert"' in section
    assert command_count(db) == 0


def test_a_refusal_reads_in_french_and_keeps_what_was_typed(client, db, kiosk):
    sign_in(client, make_user(db, Role.ADMIN))
    data = {"csrf_token": csrf_token(client, f"/devices/{kiosk.id}"), "locker": "42"}

    answer = client.post(
        f"/devices/{kiosk.id}/lockers/open",
        data={**data, "reason": "porte bloquée"},
        headers=FRENCH,
    )

    assert answer.status_code == 404
    section = lockers_section(answer)
    assert "borne-hall n\u2019a pas de casier 42 : ses casiers vont de 1 à 8" in section
    assert 'value="porte bloquée"' in section


def test_a_mediator_is_refused_a_remote_opening_with_where_to_open_it(client, db, kiosk):
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[kiosk.site]))

    answer = open_form(client, kiosk, locker="3", reason="a resident asks")

    assert answer.status_code == 403
    assert "a mediator may not open a locker from here: open it at the kiosk with your PIN" in (
        page_text(answer)
    )
    assert command_count(db) == 0


def test_nobody_opens_a_locker_of_a_place_they_do_not_cover_or_of_a_pc(client, db, kiosk):
    pc = make_device(db, kiosk.site, name="pc-accueil")
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[make_site(db)]))
    token = csrf_token(client, "/")

    outside = client.post(
        f"/devices/{kiosk.id}/lockers/open",
        data={"csrf_token": token, "locker": "3", "reason": "jammed"},
    )

    assert outside.status_code == 403
    admin = client.application.test_client()
    sign_in(admin, make_user(db, Role.ADMIN))
    not_a_kiosk = admin.post(
        f"/devices/{pc.id}/lockers/open",
        data={"csrf_token": csrf_token(admin, "/"), "locker": "1", "reason": "jammed"},
    )
    assert not_a_kiosk.status_code == 404
    assert "pc-accueil is not a charging kiosk" in page_text(not_a_kiosk).lower()
    assert command_count(db) == 0


def test_a_pc_or_a_hotspot_has_no_lockers_panel(client, db):
    site = make_site(db)
    pc = make_device(db, site)
    sign_in(client, make_user(db, Role.ADMIN))

    assert 'id="lockers"' not in page_text(client.get(f"/devices/{pc.id}"))


def test_a_kiosk_that_never_reported_says_so_and_offers_no_form(client, db, make_kiosk):
    silent = make_kiosk(name="borne-neuve")
    sign_in(client, make_user(db, Role.ADMIN))

    section = lockers_section(client.get(f"/devices/{silent.id}", headers=FRENCH))

    assert "La borne n\u2019a pas encore signalé ses casiers." in section
    assert "<form" not in section


def test_a_lock_board_that_does_not_answer_is_said_first(
    client, db, make_kiosk, send_events, lockers_report
):
    broken = make_kiosk()
    send_events(broken, lockers_report(1, utcnow(), driver_ok=False, driver_message="no answer"))
    sign_in(client, make_user(db, Role.ADMIN))

    section = lockers_section(client.get(f"/devices/{broken.id}", headers=FRENCH))

    assert "Le boîtier des serrures ne répond pas : aucun casier ne s\u2019ouvre" in section
    assert "(no answer)" in section  # what the kiosk said, as it said it


def test_the_site_page_says_how_many_lockers_are_free_at_each_kiosk(client, db, kiosk, make_kiosk):
    make_kiosk(kiosk.site, name="borne-neuve")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[kiosk.site]))

    text = words(client.get(f"/sites/{kiosk.site_id}", headers=FRENCH))

    assert "Casiers de recharge" in text
    assert "borne-hall 4 casiers libres sur 8" in text
    assert "2 casiers demandent le personnel (temps dépassé ou hors service)" in text
    assert "borne-neuve Pas encore de nouvelles de la borne" in text


def test_a_site_without_a_kiosk_has_no_lockers_panel(client, db):
    site = make_site(db)
    make_device(db, site)
    sign_in(client, make_user(db, Role.ADMIN))

    assert "site-lockers" not in page_text(client.get(f"/sites/{site.id}"))


def test_the_fleet_flags_a_kiosk_with_a_locker_needing_staff(client, db, kiosk):
    sign_in(client, make_user(db, Role.ADMIN))

    page = page_text(client.get("/"))
    flagged = page_text(client.get("/?concern=locker_trouble"))

    assert 'data-concern="locker_trouble"' in page and "Locker needs staff" in page
    assert "borne-hall" in flagged


def test_a_lockers_alert_reads_with_its_lockers_on_the_kiosks_page(client, db, kiosk, send_events):
    send_events(
        kiosk,
        protocol.LockerIncident(seq=2, at=utcnow(), kind=LockerIncidentKind.OVERTIME, locker=3),
        protocol.LockerIncident(seq=3, at=utcnow(), kind=LockerIncidentKind.OVERTIME, locker=5),
    )
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get(f"/devices/{kiosk.id}"))

    assert (
        "Lockers 3, 5 of borne-hall hold phones past the site's longest charging time: they "
        "stay shut until a member of staff opens them." in text
    )


def test_staff_openings_read_in_the_audit_log(client, db, kiosk, send_events):
    send_events(
        kiosk,
        protocol.StaffOpening(seq=2, at=utcnow(), locker=3, staff="mia", reason="forgotten"),
    )
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get("/audit"))

    assert "Locker opened by staff" in text
    assert "locker 3 of borne-hall opened at the kiosk with their PIN: forgotten" in text
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "locker.open")).one()
    assert entry.actor == "mia"


def test_the_panels_hold_nothing_wider_than_a_phone(client, db, kiosk):
    """What markup can tell of a 360 px screen: lockers are cards in a wrapping list, not a
    table; no fixed width anywhere; the form's fields stack (the Chromium test measures)."""
    sign_in(client, make_user(db, Role.ADMIN))

    section = lockers_section(client.get(f"/devices/{kiosk.id}", headers=FRENCH))
    site = page_text(client.get(f"/sites/{kiosk.site_id}", headers=FRENCH))
    site_section = re.search(
        r'<section aria-labelledby="site-lockers-title".*?</section>', site, re.S
    )

    assert site_section
    for markup in (section, site_section.group(0)):
        assert "<table" not in markup and "style=" not in markup and "width" not in markup
        assert 'class="pc-cards' in markup and 'role="list"' in markup
    assert 'class="message-fields settings-fields"' in section  # a grid that stacks

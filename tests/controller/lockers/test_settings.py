"""The rules of a site's charging kiosks and what each kiosk is told
(controller/lockers/settings.py): the form on the site's page (French; refused input changes
nothing), and everything a kiosk keeps — the rules, the site's hours, the city's time zone, the
staff's PINs — at enrolment, when the rules change and when the site's opening hours change.
What reaches the kiosk is read with the kiosk's own code (agent/kiosk), as the kiosk reads it."""

from __future__ import annotations

import re
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import func, select

from agent.kiosk import screen_kiosk_settings
from agent.kiosk.codes import check_staff_pin
from agent.protocol import CommandName, DeviceKind, UpdateConfigArgs
from controller.access import Role
from controller.accounts import api_tokens
from controller.accounts.kiosk_pin import hash_pin
from controller.audit import AuditLog
from controller.commands.models import Command, CommandState
from controller.db import utcnow
from controller.errors import PermissionDenied
from controller.fleet import enrolment
from controller.fleet.models import DeviceStatus
from controller.lockers import settings as kiosk_settings
from controller.lockers.models import KioskSettings
from tests.controller.testkit import TIMEZONE, csrf_token, page_text, sign_in, words
from tests.factories import INVENTORY, make_device, make_organisation, make_site, make_user

FRENCH = {"Accept-Language": "fr"}
HOURS = "Mo-Fr 09:00-17:00"


@pytest.fixture
def place(db):
    """A site of an organisation with a second site, and who may open its kiosks' lockers:
    an admin (everywhere), a technician of the organisation, a mediator of the site, each with
    a PIN; and who may not: a manager of the site, a mediator of the other site, a disabled
    mediator of the site (all three with a PIN), a mediator of the site without one."""
    organisation = make_organisation(db)
    site = make_site(db, organisation, name="Médiathèque Est", opening_hours=HOURS)
    other = make_site(db, organisation, name="Maison des habitants")
    pins = {}

    def staff(username, role, pin=None, **scope):
        user = make_user(
            db, role, username=username, kiosk_pin_hash=hash_pin(pin) if pin else None, **scope
        )
        if pin:
            pins[username] = pin
        return user

    staff("admin-anna", Role.ADMIN, "48151623")
    staff("tech-theo", Role.TECHNICIAN, "2580", organisations=[organisation])
    staff("med-mia", Role.MEDIATOR, "735961", sites=[site])
    staff("manager-max", Role.MANAGER, "9371", sites=[site])
    staff("med-other", Role.MEDIATOR, "8264", sites=[other])
    staff("med-gone", Role.MEDIATOR, "6482", sites=[site], active=False)
    staff("med-nopin", Role.MEDIATOR, sites=[site])
    return site, other, pins


def expected_settings(**changed):
    return {
        "kiosk_max_charge_min": 180,
        "kiosk_help_text": "",
        "kiosk_forgotten_text": "",
        "kiosk_opening_hours": HOURS,
        "site_timezone": TIMEZONE,
        "site_language": "fr",
        **changed,
    }


def kiosk_reads(args: dict) -> UpdateConfigArgs:
    """``args`` as the kiosk's agent decodes and screens them: what it would refuse fails."""
    update = msgspec.convert(args, UpdateConfigArgs, strict=True)
    screened, refused = screen_kiosk_settings(update, UpdateConfigArgs())
    assert refused == [] and screened == update
    return update


def assert_pins_open_for(pins_sent: dict[str, str], pins: dict[str, str], who: set[str]):
    """The kiosk opens for exactly ``who``, each with their own PIN (the kiosk's own check)."""
    assert set(pins_sent) == who
    for username in who:
        assert check_staff_pin(username, pins[username], pins_sent)
        assert not check_staff_pin(username, "13579", pins_sent)


def commands_of(db, device) -> list[Command]:
    return list(
        db.scalars(select(Command).where(Command.device_id == device.id).order_by(Command.id))
    )


def command_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Command))


def settings_section(answer) -> str:
    found = re.search(
        r'<section aria-labelledby="kiosk-settings-title".*?</section>', page_text(answer), re.S
    )
    assert found, "no kiosk settings panel"
    return found.group(0)


def save_rules(client, site, **fields):
    data = {
        "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        "max_charge_min": "180",
        "help_text": "",
        "forgotten_text": "",
        **fields,
    }
    return client.post(f"/sites/{site.id}/kiosk-settings", data=data, headers=FRENCH)


# --- at enrolment --------------------------------------------------------------------------------


def test_a_new_kiosk_starts_with_its_sites_rules_hours_and_the_pins_of_its_staff(client, db, place):
    site, _, pins = place
    token = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1)).token

    answer = client.post(
        "/api/v1/enrol",
        json={"token": token, "kind": "kiosk", "inventory": msgspec.to_builtins(INVENTORY)},
    )

    assert answer.status_code == 201
    settings = answer.get_json()["remote_settings"]
    sent_pins = settings.pop("kiosk_staff_pins")
    assert settings == expected_settings()  # a site never set: the defaults
    # Admins everywhere, the organisation's technician, the site's mediator; never a manager,
    # a mediator of another site, a disabled account, or someone without a PIN.
    assert_pins_open_for(sent_pins, pins, {"admin-anna", "tech-theo", "med-mia"})
    kiosk_reads({**settings, "kiosk_staff_pins": sent_pins})


def test_a_new_public_pc_gets_nothing_of_the_kiosks(client, db, place):
    site, _, _ = place
    token = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1)).token

    answer = client.post(
        "/api/v1/enrol",
        json={"token": token, "kind": "pc", "inventory": msgspec.to_builtins(INVENTORY)},
    )

    assert answer.status_code == 201
    assert not any(key.startswith("kiosk_") for key in answer.get_json()["remote_settings"])


# --- the form on the site's page ---------------------------------------------------------------


def test_an_admin_reads_the_rules_in_french_with_who_opens_the_lockers(client, db, place):
    site, _, _ = place
    make_device(db, site, kind=DeviceKind.KIOSK, name="borne-hall")
    sign_in(client, make_user(db, Role.ADMIN))

    section = settings_section(client.get(f"/sites/{site.id}", headers=FRENCH))

    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert "Règles des bornes de recharge" in text
    assert (
        "Les enregistrer les envoie à 1 borne du lieu, avec ses horaires d\u2019ouverture" in text
    )
    assert (
        "Ouvrent ses casiers à la borne avec leur code PIN : admin-anna, med-mia, tech-theo."
        in (text)
    )
    assert "manager-max" not in text and "med-other" not in text and "med-gone" not in text
    assert 'name="max_charge_min"' in section and 'value="180"' in section
    assert 'inputmode="numeric"' in section and 'min="10"' in section and 'max="1440"' in section
    assert "Durée de charge la plus longue, en minutes" in text
    assert "Où demander de l\u2019aide" in text and "Un téléphone laissé à la fermeture" in text
    assert 'maxlength="300"' in section


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.MEDIATOR, Role.MANAGER])
def test_only_those_who_manage_places_see_the_form_or_may_save_it(client, db, place, role):
    site, _, _ = place
    sign_in(client, make_user(db, role, sites=[site]))

    page = client.get(f"/sites/{site.id}")
    refused = save_rules(client, site, max_charge_min="60")

    assert 'id="kiosk-settings"' not in page_text(page)
    assert refused.status_code == 403
    assert "ne permet pas de gérer les lieux" in settings_section(refused)
    assert db.get(KioskSettings, site.id) is None and command_count(db) == 0


def test_saved_rules_go_to_every_kiosk_of_the_site_with_everything_it_keeps(client, db, place):
    site, other, pins = place
    online = make_device(
        db, site, kind=DeviceKind.KIOSK, name="borne-hall", status=DeviceStatus.ONLINE
    )
    away = make_device(db, site, kind=DeviceKind.KIOSK, name="borne-jardin")
    make_device(db, site, kind=DeviceKind.KIOSK, name="borne-retired", retired_at=utcnow())
    make_device(db, site, kind=DeviceKind.PC, name="pc-accueil")
    elsewhere = make_device(db, other, kind=DeviceKind.KIOSK, name="borne-mdh")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

    answer = save_rules(
        client,
        site,
        max_charge_min="120",
        help_text="Demandez à l\u2019accueil,\r\n  rez-de-chaussée.",
        forgotten_text="Gardé une semaine à l\u2019accueil : venez avec votre ticket.",
    )

    assert answer.status_code == 302 and answer.headers["Location"].endswith("#kiosk-settings")
    rules = kiosk_settings.rules_of(db, site)
    assert rules == kiosk_settings.KioskRules(
        120,
        "Demandez à l\u2019accueil, rez-de-chaussée.",  # one line, as the kiosk shows it
        "Gardé une semaine à l\u2019accueil : venez avec votre ticket.",
    )
    sent = {}
    for kiosk in (online, away):
        (command,) = commands_of(db, kiosk)
        assert command.name == CommandName.UPDATE_CONFIG
        assert command.requested_by == admin.username
        assert command.expires_at - command.created_at == kiosk_settings.SETTINGS_TTL
        sent[kiosk.name] = command
    assert sent["borne-hall"].state == CommandState.SENT  # pushed at once
    assert sent["borne-jardin"].state == CommandState.QUEUED  # at its next connection
    args = dict(sent["borne-hall"].args)
    assert_pins_open_for(args.pop("kiosk_staff_pins"), pins, {"admin-anna", "tech-theo", "med-mia"})
    assert args == expected_settings(
        kiosk_max_charge_min=120,
        kiosk_help_text=rules.help_text,
        kiosk_forgotten_text=rules.forgotten_text,
    )
    kiosk_reads(sent["borne-hall"].args)
    assert sent["borne-hall"].args == sent["borne-jardin"].args
    assert command_count(db) == 2 and commands_of(db, elsewhere) == []
    # Audited, with what it was before; the commands' audit hides the PINs' hashes.
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "site.kiosk_settings")).one()
    assert entry.actor == admin.username and entry.detail["before"]["max_charge_min"] == 180
    issued = db.scalars(select(AuditLog).where(AuditLog.action == "command.issue")).all()
    assert [e.detail["args"]["kiosk_staff_pins"] for e in issued] == ["(hidden)", "(hidden)"]
    page = client.get(answer.headers["Location"], headers=FRENCH)
    assert (
        "Règles des bornes de recharge enregistrées et envoyées aux 2 bornes de Médiathèque Est."
        in words(page)
    )
    assert 'value="120"' in settings_section(page)


def test_rules_saved_for_a_site_without_a_kiosk_wait_for_its_first_one(client, db, place):
    site, _, _ = place
    sign_in(client, make_user(db, Role.ADMIN))

    answer = save_rules(client, site, max_charge_min="90")

    assert answer.status_code == 302 and command_count(db) == 0
    page = words(client.get(answer.headers["Location"], headers=FRENCH))
    assert "une borne enrôlée ici commencera avec elles" in page
    token = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1)).token
    enrolled = client.post(
        "/api/v1/enrol",
        json={"token": token, "kind": "kiosk", "inventory": msgspec.to_builtins(INVENTORY)},
    )
    assert enrolled.get_json()["remote_settings"]["kiosk_max_charge_min"] == 90


@pytest.mark.parametrize(
    ("fields", "status", "said"),
    [
        (
            {"max_charge_min": "9"},
            422,
            "la charge la plus longue doit être comprise entre 10 et 1440 minutes",
        ),
        (
            {"max_charge_min": "1441"},
            422,
            "la charge la plus longue doit être comprise entre 10 et 1440 minutes",
        ),
        (
            {"max_charge_min": "trois heures"},
            400,
            "Donnez la charge la plus longue en nombre de minutes, de 10 à 1\u00a0440.",
        ),
        (
            {"max_charge_min": ""},
            400,
            "Donnez la charge la plus longue en nombre de minutes, de 10 à 1\u00a0440.",
        ),
        (
            {"help_text": "x" * 301},
            422,
            "où demander de l\u2019aide : 300 caractères au plus, pas 301",
        ),
        (
            {"forgotten_text": "é" * 301},
            422,
            "ce que devient un téléphone laissé à la fermeture : 300 caractères au plus, pas 301",
        ),
    ],
)
def test_refused_rules_say_why_in_french_beside_the_form_and_change_nothing(
    client, db, place, fields, status, said
):
    site, _, _ = place
    make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = save_rules(client, site, **{"help_text": "Accueil", **fields})

    assert answer.status_code == status
    section = settings_section(answer)
    assert said in section and 'role="alert"' in section
    assert 'value="{}"'.format(fields.get("max_charge_min", "180")) in section  # as typed
    assert db.get(KioskSettings, site.id) is None
    assert command_count(db) == 0
    assert db.scalar(select(func.count()).where(AuditLog.action == "site.kiosk_settings")) == 0


def test_the_rules_are_refused_to_a_domain_caller_outside_its_places(db, place):
    site, other, _ = place
    technician = make_user(db, Role.TECHNICIAN, sites=[other])

    with pytest.raises(PermissionDenied, match="may not manage places"):
        kiosk_settings.set_rules(
            db,
            technician,
            site,
            max_charge_min=60,
            help_text="",
            forgotten_text="",
            timezone=TIMEZONE,
        )


# --- when the site's opening hours change -----------------------------------------------------


def test_new_opening_hours_reach_the_sites_kiosks_with_everything_else(client, db, place):
    site, other, pins = place
    kiosk = make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
    elsewhere = make_device(db, other, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/hours",
        data={
            "opening_hours": "Mo-Sa 09:00-19:00; PH off",
            "submit": "y",
            "csrf_token": csrf_token(client, f"/sites/{site.id}/hours"),
        },
    )

    assert answer.status_code == 302
    (command,) = commands_of(db, kiosk)
    assert command.requested_by == "system" and command.state == CommandState.SENT
    args = dict(command.args)
    assert_pins_open_for(args.pop("kiosk_staff_pins"), pins, {"admin-anna", "tech-theo", "med-mia"})
    assert args == expected_settings(kiosk_opening_hours="Mo-Sa 09:00-19:00; PH off")
    assert kiosk_reads(command.args).kiosk_opening_hours == "Mo-Sa 09:00-19:00; PH off"
    assert commands_of(db, elsewhere) == []


def test_hours_saved_unchanged_send_nothing(client, db, place):
    site, _, _ = place
    make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/hours",
        data={
            "opening_hours": HOURS,
            "submit": "y",
            "csrf_token": csrf_token(client, f"/sites/{site.id}/hours"),
        },
    )

    assert answer.status_code == 302 and command_count(db) == 0


@pytest.mark.parametrize(
    "args",
    [
        {"kiosk_max_charge_min": 30},
        {"kiosk_help_text": "Ask at the desk"},
        {"kiosk_forgotten_text": ""},
        {"kiosk_opening_hours": "24/7"},
        {"kiosk_staff_pins": {"someone": hash_pin("582739")}},
    ],
)
def test_a_kiosk_setting_cannot_be_sent_as_a_raw_command(app, db, place, args):
    site, _, _ = place
    kiosk = make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
    admin = make_user(db, Role.ADMIN)
    _, secret = api_tokens.create_token(db, admin, admin, name="script")

    answer = app.test_client().post(
        "/api/v1/commands",
        json={"name": "update_config", "device_ids": [kiosk.id], "args": args},
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert answer.status_code == 422
    assert answer.get_json()["error"] == "owned_setting"
    assert command_count(db) == 0


def test_a_kiosk_moved_to_another_site_gets_that_sites_rules_and_pins(client, db, place):
    site, other, pins = place
    kiosk = make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.ADMIN))
    page = f"/devices/{kiosk.id}"

    moved = client.post(
        f"{page}/site", data={"site": other.id, "csrf_token": csrf_token(client, page)}
    )

    assert moved.status_code == 302
    (command,) = commands_of(db, kiosk)
    args = dict(command.args)
    assert_pins_open_for(
        args.pop("kiosk_staff_pins"), pins, {"admin-anna", "tech-theo", "med-other"}
    )
    assert args["kiosk_opening_hours"] == other.opening_hours

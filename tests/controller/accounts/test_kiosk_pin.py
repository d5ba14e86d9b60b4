"""A member of staff's kiosk PIN (controller/accounts/kiosk_pin.py): set on My account, kept only
as the hash the kiosk checks — verified here with the kiosk's own code (agent/kiosk/codes.py) —,
easy PINs refused, removable, audited without the PIN or its hash; and sent to the kiosks of the
places its owner covers whenever the PIN, their role, their places or their account's state
change, to the places they covered before as well."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from agent.kiosk.codes import check_staff_pin, parse_pin_hash
from agent.protocol import CommandName, DeviceKind
from controller.access import Role
from controller.accounts import kiosk_pin
from controller.accounts import service as users
from controller.accounts.models import User
from controller.audit import AuditLog
from controller.commands.models import Command, CommandState
from controller.errors import DomainError
from controller.fleet.models import DeviceStatus
from tests.controller.testkit import PASSWORD, csrf_token, page_text, sign_in, words
from tests.factories import make_device, make_organisation, make_site, make_user

FRENCH = {"Accept-Language": "fr"}
PIN = "58273916"  # eight digits: never found by chance in an id or a date


def set_pin(client, pin=PIN, *, again=None, password=PASSWORD, headers=None):
    return client.post(
        "/account/kiosk-pin",
        data={
            "pin": pin,
            "pin_again": pin if again is None else again,
            "password": password,
            "csrf_token": csrf_token(client, "/account/password"),
        },
        headers=headers or {},
    )


def post(client, path: str, page: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def pins_sent(db, device) -> list[dict[str, str]]:
    """The staff PINs each update_config to ``device`` carried, oldest first."""
    return [
        c.args["kiosk_staff_pins"]
        for c in db.scalars(
            select(Command)
            .where(Command.device_id == device.id, Command.name == CommandName.UPDATE_CONFIG)
            .order_by(Command.created_at, Command.id)
        )
    ]


def command_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Command))


def audit_text(db) -> str:
    return json.dumps(
        [(e.summary, e.detail) for e in db.scalars(select(AuditLog))], ensure_ascii=False
    )


@pytest.fixture
def place(db):
    """Two sites of one organisation, an online kiosk at each, and a third site elsewhere with
    its kiosk."""
    organisation = make_organisation(db)
    east, west = make_site(db, organisation), make_site(db, organisation)
    far = make_site(db)
    kiosks = {
        site: make_device(db, site, kind=DeviceKind.KIOSK, status=DeviceStatus.ONLINE)
        for site in (east, west, far)
    }
    return east, west, far, kiosks


# --- the PIN itself -------------------------------------------------------------------------------


def test_a_pin_set_on_my_account_is_the_hash_the_kiosk_checks_and_reaches_its_kiosks(
    client, db, place
):
    east, _, _, kiosks = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east])
    sign_in(client, mediator)

    answer = set_pin(client, headers=FRENCH)

    assert answer.status_code == 302 and answer.headers["Location"].endswith("#kiosk-pin")
    db.refresh(mediator)
    stored = mediator.kiosk_pin_hash
    iterations, salt, _ = parse_pin_hash(stored)  # the kiosk's own parser
    assert iterations == kiosk_pin.ITERATIONS and len(salt) == 16
    assert check_staff_pin(mediator.username, PIN, {mediator.username: stored})
    assert not check_staff_pin(mediator.username, "58273917", {mediator.username: stored})
    # Sent at once to the kiosk of the site they cover, and to no other.
    (command,) = db.scalars(select(Command)).all()
    assert command.device_id == kiosks[east].id and command.state == CommandState.SENT
    assert command.args == {"kiosk_staff_pins": {mediator.username: stored}}
    assert command.requested_by == "system"
    page = words(client.get(answer.headers["Location"], headers=FRENCH))
    assert "Votre code PIN de borne est enregistré et envoyé à 1 borne de vos lieux." in page
    assert "Vous en avez un : un nouveau le remplace sur toutes les bornes." in page


def test_neither_the_pin_nor_its_hash_is_in_the_audit_log(client, db, place):
    east, *_ = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east])
    sign_in(client, mediator)

    set_pin(client)
    db.refresh(mediator)

    entry = db.scalars(select(AuditLog).where(AuditLog.action == "user.kiosk_pin")).one()
    assert entry.actor_id == mediator.id and entry.target_id == str(mediator.id)
    assert entry.summary == f"{mediator.username} set their kiosk PIN"
    logged = audit_text(db)
    _, salt, digest = parse_pin_hash(mediator.kiosk_pin_hash)
    assert PIN not in logged and salt.hex() not in logged and digest.hex() not in logged
    assert '"kiosk_staff_pins": "(hidden)"' in logged  # the command's own entry


@pytest.mark.parametrize(
    ("pin", "said"),
    [
        ("0000", "too easy to guess"),
        ("99999999", "too easy to guess"),
        ("1234", "too easy to guess"),
        ("456789", "too easy to guess"),
        ("9876", "too easy to guess"),
        ("7890", "too easy to guess"),  # the keypad's 0 follows 9
        ("123", "4 to 8 digits"),
        ("123456780", "4 to 8 digits"),
        ("12a4", "4 to 8 digits"),
        ("\u0661\u0663\u0665\u0667", "4 to 8 digits"),  # Arabic-Indic digits: no kiosk key
        (" 2580", "4 to 8 digits"),
    ],
)
def test_a_pin_of_the_wrong_shape_or_easy_to_guess_is_refused(pin, said):
    with pytest.raises(DomainError, match=said):
        kiosk_pin.check_pin(pin)


@pytest.mark.parametrize("pin", ["2580", "1357", "1212", "90210", "31415926"])
def test_pins_of_four_to_eight_digits_out_of_order_are_taken(pin):
    kiosk_pin.check_pin(pin)


def test_a_weak_pin_on_the_page_says_why_in_french_and_changes_nothing(client, db, place):
    east, *_ = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east])
    sign_in(client, mediator)

    answer = set_pin(client, "1234", headers=FRENCH)

    assert answer.status_code == 400
    text = page_text(answer)
    assert (
        "ce code PIN est trop facile à deviner : ni un même chiffre répété (0000), ni des "
        "chiffres qui se suivent (1234, 9876)"
    ) in text
    assert 'role="alert"' in text
    db.refresh(mediator)
    assert mediator.kiosk_pin_hash is None and command_count(db) == 0
    assert "user.kiosk_pin" not in db.scalars(select(AuditLog.action)).all()


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        (
            {"password": "not my password"},
            "ce n\u2019est pas votre mot de passe : rien n\u2019a été changé",
        ),
        ({"again": "58273917"}, "Les deux codes PIN diffèrent : tapez deux fois le même."),
    ],
)
def test_a_wrong_password_or_two_different_pins_change_nothing(client, db, place, fields, said):
    east, *_ = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east])
    sign_in(client, mediator)

    answer = set_pin(client, headers=FRENCH, **fields)

    assert answer.status_code == 400 and said in page_text(answer)
    db.refresh(mediator)
    assert mediator.kiosk_pin_hash is None and command_count(db) == 0


def test_my_account_offers_the_pin_in_french_to_a_phone_keypad(client, db, place):
    east, *_ = place
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[east]))

    page = client.get("/account/password", headers=FRENCH)

    text = page_text(page)
    assert "Mon code PIN de borne" in text and "Vous n\u2019en avez pas encore." in text
    assert "4 à 8 chiffres. Ni un même chiffre répété (0000)" in text
    for name in ("pin", "pin_again"):
        (tag,) = re.findall(rf'<input[^>]*name="{name}"[^>]*>', text)
        assert 'type="password"' in tag and 'inputmode="numeric"' in tag
        assert 'maxlength="8"' in tag and 'autocomplete="off"' in tag
    assert 'autocomplete="current-password"' in text
    assert "Retirer mon code PIN" not in text  # nothing to remove yet


def test_a_manager_is_offered_no_pin_and_is_refused_one(client, db, place):
    east, *_ = place
    manager = make_user(db, Role.MANAGER, sites=[east])
    sign_in(client, manager)

    page = client.get("/account/password")
    refused = set_pin(client)

    assert "My kiosk PIN" not in page_text(page)
    assert refused.status_code == 403
    assert "a manager opens no locker at the kiosks: there is no PIN to set" in page_text(refused)
    db.refresh(manager)
    assert manager.kiosk_pin_hash is None and command_count(db) == 0


def test_a_pin_removed_leaves_every_kiosk_of_the_persons_places(client, db, place):
    east, west, far, kiosks = place
    technician = make_user(db, Role.TECHNICIAN, organisations=[east.organisation])
    sign_in(client, technician)
    set_pin(client)

    removed = client.post(
        "/account/kiosk-pin/remove",
        data={"csrf_token": csrf_token(client, "/account/password")},
        headers=FRENCH,
    )

    assert removed.status_code == 302
    db.refresh(technician)
    assert technician.kiosk_pin_hash is None
    for site in (east, west):  # the organisation's two sites: set, then removed
        sent = pins_sent(db, kiosks[site])
        assert [list(p) for p in sent] == [[technician.username], []]
    assert pins_sent(db, kiosks[far]) == []
    assert "user.kiosk_pin_removed" in db.scalars(select(AuditLog.action)).all()
    page = words(client.get("/account/password", headers=FRENCH))
    assert "Votre code PIN de borne est retiré : il n\u2019ouvre plus aucun casier." in page


def test_an_admin_takes_away_someone_elses_pin_and_nobody_else_may(db, place):
    east, *_ = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east], kiosk_pin_hash=kiosk_pin.hash_pin(PIN))
    other = make_user(db, Role.MEDIATOR, sites=[east])

    with pytest.raises(DomainError, match="may not manage users"):
        kiosk_pin.remove_pin(db, other, mediator)
    issued = kiosk_pin.remove_pin(db, make_user(db, Role.ADMIN), mediator)

    assert mediator.kiosk_pin_hash is None
    assert [c.args for c in issued] == [{"kiosk_staff_pins": {}}]


# --- who gets which PINs, as accounts change ------------------------------------------------------


def test_a_mediator_moved_to_another_site_leaves_the_old_kiosk_and_reaches_the_new(app, db, place):
    east, west, far, kiosks = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east], kiosk_pin_hash=kiosk_pin.hash_pin(PIN))
    colleague = make_user(
        db, Role.MEDIATOR, sites=[east], kiosk_pin_hash=kiosk_pin.hash_pin("2580")
    )
    make_user(db, Role.MEDIATOR, sites=[far], kiosk_pin_hash=kiosk_pin.hash_pin("1357"))
    make_user(db, Role.MANAGER, sites=[west], kiosk_pin_hash=kiosk_pin.hash_pin("3691"))
    admin = make_user(db, Role.ADMIN)
    client = app.test_client()
    sign_in(client, admin)

    page = f"/users/{mediator.id}"
    moved = post(client, f"{page}/access", page, role="mediator", sites=[west.id])

    assert moved.status_code == 302
    # The site they left: their colleague only. The site they joined: them (never the
    # manager's PIN). The far site's kiosk, and its mediator's PIN, are not concerned.
    assert pins_sent(db, kiosks[east]) == [{colleague.username: colleague.kiosk_pin_hash}]
    assert pins_sent(db, kiosks[west]) == [{mediator.username: mediator.kiosk_pin_hash}]
    assert pins_sent(db, kiosks[far]) == []
    # Stored for the next sweep of a controller process: the command line changes accounts
    # too, and has no connection to push them through.
    states = {c.state for c in db.scalars(select(Command))}
    assert states == {CommandState.QUEUED}


def test_a_mediator_made_admin_reaches_every_kiosk_and_a_manager_none(db, place):
    east, west, _, kiosks = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east], kiosk_pin_hash=kiosk_pin.hash_pin(PIN))
    admin = make_user(db, Role.ADMIN)

    users.set_role_and_scopes(db, admin, mediator, role=Role.ADMIN)
    users.set_role_and_scopes(db, admin, mediator, role=Role.MANAGER, sites=[west.id])

    for kiosk in kiosks.values():  # city-wide as an admin, then nowhere as a manager
        assert [list(p) for p in pins_sent(db, kiosk)] == [[mediator.username], []]


def test_disabling_an_account_takes_its_pin_off_the_kiosks_and_enabling_brings_it_back(
    app, db, place
):
    east, west, far, kiosks = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east], kiosk_pin_hash=kiosk_pin.hash_pin(PIN))
    client = app.test_client()
    sign_in(client, make_user(db, Role.ADMIN))

    disabled = post(client, f"/users/{mediator.id}/disable", f"/users/{mediator.id}")
    enabled = post(client, f"/users/{mediator.id}/enable", f"/users/{mediator.id}")

    assert disabled.status_code == enabled.status_code == 302
    assert pins_sent(db, kiosks[east]) == [{}, {mediator.username: mediator.kiosk_pin_hash}]
    assert pins_sent(db, kiosks[west]) == pins_sent(db, kiosks[far]) == []


def test_an_account_without_a_pin_changes_without_a_word_to_the_kiosks(db, place):
    east, west, *_ = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east])
    admin = make_user(db, Role.ADMIN)

    users.set_role_and_scopes(db, admin, mediator, role=Role.TECHNICIAN, sites=[west.id])
    users.set_active(db, admin, mediator, False)

    assert command_count(db) == 0


def test_the_command_line_disabling_someone_takes_their_pin_off_the_kiosks(db, place):
    east, *_, kiosks = place
    mediator = make_user(db, Role.MEDIATOR, sites=[east], kiosk_pin_hash=kiosk_pin.hash_pin(PIN))

    users.set_active(db, "cli", users.find_user(db, mediator.username), False)

    assert pins_sent(db, kiosks[east]) == [{}]
    assert db.get(User, mediator.id).active is False

"""Hotspots' captive portal set from the controller (controller/hotspots/service.py): defaults,
checks, the command the hotspot gets, the code of the day, and new opening hours passed on."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import select

from agent.protocol import CommandName, CommandResult, DeviceKind, PortalModeName, UpdateConfigArgs
from captive_portal import codes
from controller.access import Role
from controller.audit import AuditLog
from controller.commands import service as commands
from controller.commands.models import Command
from controller.errors import DomainError, PermissionDenied
from controller.fleet import enrolment
from controller.hotspots import service as hotspot_portal
from controller.hotspots.models import HotspotPortal
from controller.places import open_data
from controller.places.models import Site
from tests.controller.testkit import TIMEZONE, csrf_token, sign_in
from tests.factories import enrol_request, make_device, make_hotspot, make_site, make_user

# 23:30 UTC is already the next day in Paris: the code must follow the controller's zone.
LATE_EVENING = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)


PARIS_DAY = date(2026, 11, 23)


def set_portal(db, user, device, **changes) -> list[Command]:
    settings = {"mode": "click", "follow_site_hours": True, "session_min": 240, **changes}
    return hotspot_portal.set_portal(db, user, device, timezone=TIMEZONE, **settings)


PLACES_HEADER = "id,organisation,nom,commune,latitude,longitude,horaires\n"


def import_hours(db, tmp_path, site: Site, hours: str) -> open_data.ImportResult:
    csv_file = tmp_path / "places.csv"
    csv_file.write_text(
        PLACES_HEADER
        + f'{site.slug},{site.organisation.name},{site.name},Grenoble,45.19,5.72,"{hours}"\n',
        encoding="utf-8",
    )
    return open_data.import_places(db, "cli", csv_file, timezone=TIMEZONE)


def test_a_hotspot_starts_in_click_mode_with_a_secret_of_its_own(db):
    site = make_site(db)
    first, second = make_hotspot(db, site), make_hotspot(db, site)

    config = hotspot_portal.portal_config(db, first)

    # Open at all hours until staff opt in: enrolling must not close a wifi that works.
    assert (config.mode, config.follow_site_hours, config.session_min) == ("click", False, 240)
    assert len(config.code_secret) >= 32
    assert config.code_secret != hotspot_portal.portal_config(db, second).code_secret
    assert hotspot_portal.portal_config(db, first) is config  # made once


def test_two_first_saves_at_once_share_one_row(db, monkeypatch):
    # The other admin's request made the row between this one's look and its insert.
    hotspot = make_hotspot(db)
    theirs = hotspot_portal.portal_config(db, hotspot)
    db.expunge(theirs)  # made by another request: not in this one's session
    monkeypatch.setattr(hotspot_portal, "find_config", lambda session, device: None)

    mine = hotspot_portal.portal_config(db, hotspot)

    assert mine.code_secret == theirs.code_secret  # their row, not a second secret
    assert len(db.scalars(select(HotspotPortal)).all()) == 1


def test_portal_args_carry_the_site_hours_only_when_followed(db):
    site = make_site(db, opening_hours="Tu-Sa 10:00-18:00")
    config = hotspot_portal.portal_config(db, make_hotspot(db, site))
    config.follow_site_hours = True

    args = hotspot_portal.portal_args(config, site, "America/Cayenne")
    config.follow_site_hours = False

    assert args == {
        "portal_mode": "click",
        "portal_opening_hours": "Tu-Sa 10:00-18:00",
        "portal_timezone": "America/Cayenne",
        "portal_session_s": 240 * 60,
        "portal_code_secret": config.code_secret,
        "portal_revision": config.revision,
    }
    assert hotspot_portal.portal_args(config, site, TIMEZONE)["portal_opening_hours"] == ""


def test_admin_sets_the_portal_and_the_hotspot_alone_is_told(db):
    site = make_site(db)
    hotspot = make_hotspot(db, site)
    make_device(db, site)  # a PC of the same site hears nothing
    admin = make_user(db, Role.ADMIN)

    issued = set_portal(db, admin, hotspot, mode="code", follow_site_hours=False, session_min=90)

    config = db.get(HotspotPortal, hotspot.id)
    assert (config.mode, config.follow_site_hours, config.session_min) == ("code", False, 90)
    assert [(c.device_id, c.name) for c in issued] == [(hotspot.id, CommandName.UPDATE_CONFIG)]
    sent = msgspec.convert(issued[0].args, UpdateConfigArgs)  # what the agent will decode
    assert (sent.portal_mode, sent.portal_opening_hours, sent.portal_session_s) == (
        "code",
        "",
        5400,
    )
    assert (sent.portal_timezone, sent.portal_code_secret) == (TIMEZONE, config.code_secret)


def test_pages_say_whether_the_hotspot_has_the_settings_yet(db):
    hotspot = make_hotspot(db)
    admin = make_user(db, Role.ADMIN)
    [command] = set_portal(db, admin, hotspot, mode="code")

    def delivery() -> tuple[str | None, str]:
        view = hotspot_portal.view_portal(db, admin, hotspot, timezone=TIMEZONE, now=LATE_EVENING)
        return view.delivery, view.delivery_note

    assert delivery() == ("queued", "")  # the hotspot may still run its previous settings
    commands.claim(db, hotspot.id, command.id)
    commands.record_result(
        db,
        hotspot.id,
        CommandResult(
            seq=1,
            at=LATE_EVENING,
            command_id=command.id,
            ok=False,
            output="invalid arguments for update_config: unknown field portal_mode",
        ),
    )
    assert delivery() == (
        "failed",
        "invalid arguments for update_config: unknown field portal_mode",
    )

    [again] = set_portal(db, admin, hotspot, mode="code")
    commands.claim(db, hotspot.id, again.id)
    ok = CommandResult(seq=2, at=LATE_EVENING, command_id=again.id, ok=True, output="applied")
    commands.record_result(db, hotspot.id, ok)
    assert delivery() == ("done", "")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "open"}, "must be one of click, code, closed, not 'open'"),
        ({"session_min": 14}, "between 15 and 1440 minutes"),
        ({"session_min": 1441}, "between 15 and 1440 minutes"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(db, changes, message):
    hotspot = make_hotspot(db, mode=PortalModeName.CLICK)

    with pytest.raises(DomainError, match=message):
        set_portal(db, make_user(db, Role.ADMIN), hotspot, **changes)

    assert db.get(HotspotPortal, hotspot.id).session_min == 240
    assert db.scalars(select(Command)).all() == []


def test_the_audit_log_keeps_before_and_after_but_never_the_secret(db):
    hotspot = make_hotspot(db, mode=PortalModeName.CLICK)
    secret = hotspot_portal.portal_config(db, hotspot).code_secret
    admin = make_user(db, Role.ADMIN)

    issued = set_portal(db, admin, hotspot, mode="code")

    entries = db.scalars(select(AuditLog).where(AuditLog.actor_id == admin.id)).all()
    portal_entry = next(e for e in entries if e.action == "hotspot.portal")
    assert portal_entry.detail["before"]["mode"] == "click"
    assert portal_entry.detail["after"]["mode"] == "code"
    assert "code mode" in portal_entry.summary
    assert {e.action for e in entries} == {"hotspot.portal", "command.issue"}
    for entry in entries:
        assert secret not in json.dumps(entry.detail) + entry.summary
    # Command lists (pages, API, live updates) hide it too; only the hotspot gets it.
    assert commands.summary(issued[0])["args"]["portal_code_secret"] == commands.HIDDEN
    assert commands.message_for(issued[0]).args["portal_code_secret"] == secret


def test_code_of_the_day_is_the_portals_own_for_the_controllers_date(db):
    hotspot = make_hotspot(db, mode=PortalModeName.CODE)
    config = hotspot_portal.portal_config(db, hotspot)

    shown = hotspot_portal.code_of_the_day(config, TIMEZONE, LATE_EVENING)

    expected = codes.code_of_the_day(config.code_secret, PARIS_DAY)
    assert shown == f"{expected[:3]} {expected[3:]}"
    assert codes.is_code_of_the_day(codes.normalise_code(shown), config.code_secret, PARIS_DAY)
    assert shown != hotspot_portal.code_of_the_day(
        config, TIMEZONE, LATE_EVENING + timedelta(days=1)
    )


@pytest.mark.parametrize("mode", [PortalModeName.CLICK, PortalModeName.CLOSED])
def test_no_code_outside_code_mode(db, mode):
    config = hotspot_portal.portal_config(db, make_hotspot(db, mode=mode))

    assert hotspot_portal.code_of_the_day(config, TIMEZONE, LATE_EVENING) is None


def test_only_a_hotspot_has_a_portal(db):
    pc = make_device(db, name="pc-accueil")
    admin = make_user(db, Role.ADMIN)

    with pytest.raises(DomainError, match="pc-accueil is not a wifi hotspot"):
        set_portal(db, admin, pc)
    with pytest.raises(DomainError, match="is not a wifi hotspot"):
        hotspot_portal.portal_config(db, pc)
    assert db.scalars(select(HotspotPortal)).all() == []


def test_mediator_reads_the_code_of_their_site_but_may_not_change_the_portal(db):
    site = make_site(db)
    hotspot = make_hotspot(db, site, mode=PortalModeName.CODE)
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    elsewhere = make_user(db, Role.MEDIATOR, sites=[make_site(db)])

    view = hotspot_portal.view_portal(db, mediator, hotspot, timezone=TIMEZONE, now=LATE_EVENING)

    config = hotspot_portal.portal_config(db, hotspot)
    assert view.code_of_the_day == hotspot_portal.code_of_the_day(config, TIMEZONE, LATE_EVENING)
    assert view.managed and view.mode == "code" and view.opening_hours == ""  # open at all hours
    with pytest.raises(PermissionDenied, match="a mediator may not manage places"):
        set_portal(db, mediator, hotspot, mode="click")
    with pytest.raises(PermissionDenied, match="outside the places you cover"):
        hotspot_portal.view_portal(db, elsewhere, hotspot, timezone=TIMEZONE, now=LATE_EVENING)
    assert config.mode == "code"


def test_a_hotspot_never_set_from_here_shows_no_code_and_gets_no_row(db):
    hotspot = make_hotspot(db)

    view = hotspot_portal.view_portal(
        db, make_user(db, Role.ADMIN), hotspot, timezone=TIMEZONE, now=LATE_EVENING
    )

    assert not view.managed and view.code_of_the_day is None
    assert db.get(HotspotPortal, hotspot.id) is None


def test_site_page_codes_cover_its_hotspots_in_code_mode_only(db):
    site = make_site(db)
    coded = make_hotspot(db, site, mode=PortalModeName.CODE)
    make_hotspot(db, site, mode=PortalModeName.CLICK)
    make_hotspot(db, site)
    make_hotspot(db, make_site(db), mode=PortalModeName.CODE)  # another site's

    found = hotspot_portal.codes_of_the_day(
        db, make_user(db, Role.ADMIN), site, timezone=TIMEZONE, now=LATE_EVENING
    )

    config = hotspot_portal.portal_config(db, coded)
    assert found == {coded.id: hotspot_portal.code_of_the_day(config, TIMEZONE, LATE_EVENING)}


def test_new_opening_hours_go_to_the_hotspots_that_follow_them(db, tmp_path):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    following = make_hotspot(db, site, mode=PortalModeName.CODE)
    hotspot_portal.portal_config(db, following).follow_site_hours = True
    make_hotspot(db, site, mode=PortalModeName.CLICK)  # open at all hours (the default)
    make_hotspot(db, site)  # never set from here: its own settings file stays in force
    make_device(db, site)

    result = import_hours(db, tmp_path, site, "Tu-Sa 10:00-19:00")

    issued = db.scalars(select(Command)).all()
    assert result.hotspots_told == 1
    assert [(c.device_id, c.name) for c in issued] == [(following.id, CommandName.UPDATE_CONFIG)]
    assert issued[0].args["portal_opening_hours"] == "Tu-Sa 10:00-19:00"
    assert issued[0].args["portal_mode"] == "code"


def test_each_change_sends_a_higher_revision_so_a_delayed_one_cannot_undo_it(db, tmp_path):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    hotspot = make_hotspot(db, site)
    admin = make_user(db, Role.ADMIN)

    [first] = set_portal(db, admin, hotspot, mode="code")
    import_hours(db, tmp_path, site, "Tu-Sa 10:00-19:00")  # follows the site's hours
    [second] = set_portal(db, admin, hotspot, mode="closed")
    [queued] = [c for c in db.scalars(select(Command)) if c.id not in (first.id, second.id)]

    assert first.args["portal_revision"] < queued.args["portal_revision"]
    assert queued.args["portal_revision"] < second.args["portal_revision"]


def test_an_import_that_keeps_the_hours_tells_nobody(db, tmp_path):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    make_hotspot(db, site, mode=PortalModeName.CLICK)

    result = import_hours(db, tmp_path, site, "Mo-Fr 09:00-17:00")

    assert result.hotspots_told == 0 and db.scalars(select(Command)).all() == []


def test_an_enrolled_hotspot_keeps_its_own_settings_until_staff_save(db, app):
    # Its settings file may say code mode or opening hours; an older agent could not even read
    # portal settings in the answer. Nothing is sent and nothing is made until someone saves.
    site = make_site(db, opening_hours="Mo-Sa 09:00-18:00")
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))

    answer = enrolment.enrol(
        db,
        enrol_request(issued.token, DeviceKind.HOTSPOT),
        heartbeat_interval_s=10,
        starting_settings=enrolment.starting_settings_of(app),
    )

    assert answer.remote_settings is None
    assert db.get(HotspotPortal, answer.device_id) is None
    assert db.scalars(select(Command)).all() == []


def test_hours_changed_on_the_hours_page_reach_the_hotspots_that_follow_them(client, db):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    following = make_hotspot(db, site, mode=PortalModeName.CODE)
    hotspot_portal.portal_config(db, following).follow_site_hours = True
    make_hotspot(db, site, mode=PortalModeName.CLICK)  # open at all hours: not told
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/hours",
        data={
            "opening_hours": "Tu-Sa 10:00-19:00",
            "submit": "y",
            "csrf_token": csrf_token(client, f"/sites/{site.id}/hours"),
        },
    )

    assert answer.status_code == 302
    [told] = db.scalars(select(Command).where(Command.device_id == following.id)).all()
    assert told.requested_by == "system"
    assert told.args["portal_opening_hours"] == "Tu-Sa 10:00-19:00"
    assert told.args["portal_mode"] == "code"

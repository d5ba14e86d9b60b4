"""Commands from the staff pages (controller/commands/web.py): buttons per role, the form path
without JavaScript, the JSON path of the page's script, refusals."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from agent.protocol import CommandName, DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.commands.models import Command, CommandState
from controller.fleet.models import DeviceStatus
from tests.controller.testkit import csrf_token, send, sign_in
from tests.factories import make_device, make_organisation, make_site, make_user

MEDIATOR_LABELS = (
    "Reset now",
    "Lock the screen",
    "Unlock the screen",
    "Show a message",
)


def command_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Command))


def text(answer) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(answer.get_data(as_text=True))


def shown(page: str) -> str:
    """The page without the words its script may write (every command's label is there)."""
    return re.sub(
        r"<script type=\"application/json\" data-page-words>.*?</script>", "", page, flags=re.S
    )


def offered_commands(page: str) -> list[str]:
    return re.findall(r'name="command" value="([a-z_]+)"', page)


def test_mediator_is_offered_the_mediator_commands_only(client, db):
    site = make_site(db)
    device = make_device(db, site, status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    page = shown(client.get(f"/devices/{device.id}").get_data(as_text=True))

    assert sorted(offered_commands(page)) == sorted(
        ["reset_session", "lock_screen", "unlock_screen", "show_message", "extend_session"]
    )
    for label in MEDIATOR_LABELS:
        assert label in page
    assert "Restart" not in page and "Install updates" not in page


def test_admin_is_offered_only_commands_that_apply_to_the_kind_of_device(client, db):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT)
    sign_in(client, make_user(db, Role.ADMIN))

    offered = offered_commands(client.get(f"/devices/{hotspot.id}").get_data(as_text=True))

    assert "reboot" in offered and "maintenance" in offered
    assert not {"reset_session", "lock_screen", "show_message", "wake"} & set(offered)


def test_manager_sees_no_command_panel_and_is_refused_on_post(client, db):
    organisation = make_organisation(db)
    device = make_device(db, make_site(db, organisation))
    sign_in(client, make_user(db, Role.MANAGER, organisations=[organisation]))

    page = client.get(f"/devices/{device.id}").get_data(as_text=True)
    answer = send(client, f"/devices/{device.id}", "lock_screen")

    assert 'id="commands"' not in page and offered_commands(page) == []
    assert "Recent commands" in page
    assert answer.status_code == 403
    assert "a manager may not send" in text(answer)
    assert command_count(db) == 0


def test_site_page_offers_site_wide_commands_by_role(client, db):
    site = make_site(db, name="Médiathèque")
    make_device(db, site, kind=DeviceKind.PC)
    make_device(db, site, kind=DeviceKind.PC)
    make_device(db, site, kind=DeviceKind.HOTSPOT)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    mediator_page = client.get(f"/sites/{site.id}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, make_user(db, Role.TECHNICIAN, organisations=[site.organisation]))
    technician_page = client.get(f"/sites/{site.id}").get_data(as_text=True)

    assert "Reset all PCs" in mediator_page and "Lock all screens" in mediator_page
    assert "Message to all screens" in mediator_page and "Restart all" not in mediator_page
    for label in ("Restart all", "Wake all PCs", "Shut down all", "Install updates"):
        assert label in technician_page
    assert "Restart all at Médiathèque (3 devices) now?" in technician_page


def test_mediator_resets_a_pc_after_confirming_and_it_is_stored_audited_and_flashed(client, db):
    site = make_site(db)
    device = make_device(db, site, name="pc-accueil")
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    sign_in(client, mediator)

    asked = send(client, f"/devices/{device.id}", "reset_session")
    assert asked.status_code == 200 and command_count(db) == 0
    assert "End the current session and wipe everything the resident left?" in asked.get_data(
        as_text=True
    )

    answer = send(client, f"/devices/{device.id}", "reset_session", confirmed="yes")

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/devices/{device.id}#commands"
    stored = db.scalars(select(Command)).one()
    assert stored.name == CommandName.RESET_SESSION and stored.device_id == device.id
    # The PC is offline here: the command waits for its connection.
    assert stored.requested_by == mediator.username and stored.state == CommandState.QUEUED
    audited = db.scalars(select(AuditLog).where(AuditLog.action == "command.issue")).one()
    assert audited.actor_id == mediator.id and audited.detail["command_id"] == stored.id
    page = client.get(f"/devices/{device.id}").get_data(as_text=True)
    assert "Reset now: sent to pc-accueil." in page
    assert f'data-command-id="{stored.id}"' in page and ">Queued<" in page


def test_mediator_is_refused_a_reboot_and_a_device_of_another_site(client, db):
    site, other = make_site(db), make_site(db)
    mine, theirs = make_device(db, site), make_device(db, other)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    reboot = send(client, f"/devices/{mine.id}", "reboot", confirmed="yes")
    elsewhere = send(client, f"/devices/{theirs.id}", "lock_screen")

    assert reboot.status_code == 403
    assert "a mediator may not send 'reboot'" in text(reboot)
    assert elsewhere.status_code == 403
    assert command_count(db) == 0


def test_message_without_text_or_with_bad_seconds_is_explained_and_nothing_stored(client, db):
    device = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))

    empty = send(client, f"/devices/{device.id}", "show_message", text="  ")
    too_long = send(client, f"/devices/{device.id}", "show_message", text="Hi", seconds="99999")

    assert empty.status_code == 400
    assert "Write the message to show on the screen." in empty.get_data(as_text=True)
    assert too_long.status_code == 422
    page = too_long.get_data(as_text=True)
    assert "Nothing was sent." in page and "invalid arguments for show_message" in page
    assert command_count(db) == 0


def test_message_with_seconds_is_sent_with_its_arguments(client, db):
    device = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = send(
        client, f"/devices/{device.id}", "show_message", text="Closing in 10 min", seconds="60"
    )

    assert answer.status_code == 302
    assert db.scalars(select(Command)).one().args == {"text": "Closing in 10 min", "seconds": 60}


def test_unknown_command_and_not_applicable_command_are_explained(client, db):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT, name="wifi-hall")
    sign_in(client, make_user(db, Role.ADMIN))

    unknown = send(client, f"/devices/{hotspot.id}", "self_destruct")
    not_applicable = send(client, f"/devices/{hotspot.id}", "lock_screen")

    assert unknown.status_code == 400 and "unknown command" in unknown.get_data(as_text=True)
    assert not_applicable.status_code == 400
    assert "does not apply to it" in not_applicable.get_data(as_text=True)
    assert command_count(db) == 0


def test_wake_without_an_online_neighbour_is_a_conflict(client, db):
    device = make_device(db, inventory={"macs": ["aa:bb:cc:dd:ee:ff"]})
    sign_in(client, make_user(db, Role.ADMIN))

    answer = send(client, f"/devices/{device.id}", "wake")

    assert answer.status_code == 409
    assert "is online to wake" in text(answer)
    assert command_count(db) == 0


def test_command_post_without_csrf_token_is_refused(client, db):
    device = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(f"/devices/{device.id}/commands", data={"command": "lock_screen"})

    assert answer.status_code == 400
    assert "nothing was changed" in text(answer)
    assert command_count(db) == 0


def test_site_wide_lock_is_sent_to_every_screen_of_the_site(client, db):
    site = make_site(db, name="MDH Teisseire")
    pcs = [make_device(db, site), make_device(db, site)]
    make_device(db, site, kind=DeviceKind.HOTSPOT)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    answer = send(client, f"/sites/{site.id}", "lock_screen", confirmed="yes")

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/sites/{site.id}#commands"
    stored = db.scalars(select(Command)).all()
    assert sorted(c.device_id for c in stored) == sorted(d.id for d in pcs)
    assert len({c.batch_id for c in stored}) == 1
    page = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "Lock all screens: sent to 2 devices at MDH Teisseire." in page
    assert page.count("data-command-id=") == 2


def test_script_gets_the_commands_as_json(client, db):
    device = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = send(client, f"/devices/{device.id}", "lock_screen", json_=True)

    assert answer.status_code == 201
    body = answer.get_json()
    assert body["commands"][0]["name"] == "lock_screen"
    assert body["commands"][0]["state"] == "queued"
    assert body["message"].startswith("Lock the screen: sent to")


def test_script_errors_are_json_and_a_disruptive_command_needs_confirmation(client, db):
    site = make_site(db)
    device = make_device(db, site)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    unconfirmed = send(client, f"/devices/{device.id}", "reset_session", json_=True)
    refused = send(client, f"/devices/{device.id}", "reboot", json_=True, confirmed="yes")
    no_csrf = client.post(
        f"/devices/{device.id}/commands",
        data={"command": "lock_screen"},
        headers={"Accept": "application/json"},
    )

    assert unconfirmed.status_code == 409 and unconfirmed.get_json()["error"] == "confirm"
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "a mediator may not send 'reboot'"
    assert no_csrf.status_code == 400 and no_csrf.get_json()["error"] == "csrf"
    assert command_count(db) == 0


def test_script_may_send_the_token_in_the_csrf_header(client, db):
    device = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))
    token = csrf_token(client, f"/devices/{device.id}")

    answer = client.post(
        f"/devices/{device.id}/commands",
        data={"command": "unlock_screen"},
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )

    assert answer.status_code == 201 and command_count(db) == 1


def test_update_settings_sends_only_what_changed_and_refuses_an_empty_change(client, db):
    site = make_site(db)
    device = make_device(db, site, name="pc-1", status=DeviceStatus.ONLINE, heartbeat_interval_s=10)
    sign_in(client, make_user(db, Role.ADMIN))
    path = f"/devices/{device.id}"
    page = client.get(path).get_data(as_text=True)
    assert 'name="heartbeat_interval_s"' in page and 'name="device_name"' in page

    empty = send(client, path, "update_config", json_=True, heartbeat_interval_s="10")
    assert empty.status_code == 400
    assert "nothing to change" in empty.get_json()["message"]
    assert command_count(db) == 0

    sent = send(client, path, "update_config", json_=True, confirmed="yes",
                heartbeat_interval_s="10", inventory_interval_h="12", device_name="")  # fmt: skip
    assert sent.status_code == 201
    assert db.scalars(select(Command)).one().args == {"inventory_interval_s": 43200}


def test_mediator_gives_a_resident_more_time(client, db):
    site = make_site(db)
    device = make_device(db, site, name="pc-1", status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    answer = send(client, f"/devices/{device.id}", "extend_session", json_=True)

    assert answer.status_code == 201
    issued = db.scalars(select(Command)).one()
    assert issued.name == CommandName.EXTEND_SESSION
    assert issued.args == {"language": "fr", "time_zone": "Europe/Paris"}  # 15 min: the default

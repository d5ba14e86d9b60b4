"""Commands (controller/commands/service.py): who may send what where, claims, results, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent.protocol import CommandName, CommandResult, DeviceKind
from controller.access import MEDIATOR_COMMANDS, Role
from controller.audit import AuditLog
from controller.commands import service as commands
from controller.commands.models import Command, CommandState
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet.ingest import _Pending, write_events
from controller.fleet.models import DeviceStatus
from tests.factories import make_device, make_organisation, make_site, make_user

ARGS = {
    CommandName.SHOW_MESSAGE: {"text": "The library closes in 15 minutes."},
    CommandName.OPEN_LOCKER: {"locker": 1, "staff": "mia", "reason": "a phone past its time"},
}


MAC = "52:54:00:12:34:56"


def kind_for(name: CommandName) -> DeviceKind:
    kinds = commands.SPECS[name].kinds
    return next(
        kind for kind in (DeviceKind.PC, DeviceKind.KIOSK, DeviceKind.HOTSPOT) if kind in kinds
    )


def target(db, site, name: CommandName):
    """A device ``name`` applies to, on ``site``; for wake, with an online neighbour."""
    device = make_device(db, site, kind=kind_for(name), inventory={"macs": [MAC]})
    if name is CommandName.WAKE:
        make_device(db, site, kind=DeviceKind.HOTSPOT, status=DeviceStatus.ONLINE)
    return device


def expected_allowed(role: Role, name: CommandName, in_scope: bool) -> bool:
    if role is Role.ADMIN:
        return True
    if role is Role.MANAGER or not in_scope:
        return False
    return role is Role.TECHNICIAN or name in MEDIATOR_COMMANDS


def issue_one(db, name=CommandName.REBOOT, **kwargs) -> Command:
    device = make_device(db)
    return commands.issue(db, "cli", name, device_ids=[device.id], **kwargs)[0]


def result(command: Command, ok: bool = True, seq: int = 1) -> CommandResult:
    return CommandResult(
        seq=seq,
        at=datetime.now(UTC),
        command_id=command.id,
        ok=ok,
        output="rebooting in 5 s",
        duration_ms=120,
    )


@pytest.mark.parametrize("in_scope", [True, False], ids=["own-site", "other-site"])
@pytest.mark.parametrize("name", list(CommandName))
@pytest.mark.parametrize("role", list(Role))
def test_permission_matrix(db, role, name, in_scope):
    organisation = make_organisation(db)
    own, other = make_site(db, organisation), make_site(db)
    scope = {"organisations": [organisation]} if role is Role.TECHNICIAN else {"sites": [own]}
    user = make_user(db, role, **({} if role is Role.ADMIN else scope))
    device = target(db, own if in_scope else other, name)

    if expected_allowed(role, name, in_scope):
        issued = commands.issue(db, user, name, device_ids=[device.id], args=ARGS.get(name))
        assert [c.device_id for c in issued] == [device.id]
        assert issued[0].requested_by == user.username
    else:
        with pytest.raises(PermissionDenied):
            commands.issue(db, user, name, device_ids=[device.id], args=ARGS.get(name))
        assert db.scalars(select(Command)).all() == []


def test_unknown_command_name_is_refused_with_the_known_ones():
    with pytest.raises(DomainError, match=r"unknown command 'format_disk'.*reset_session"):
        commands.parse_name("format_disk")


@pytest.mark.parametrize(
    "args", [{}, {"text": ""}, {"text": "hi", "colour": "red"}, {"text": "hi", "seconds": -1}]
)
def test_wrong_arguments_are_refused_and_nothing_is_stored(db, args):
    device = make_device(db)
    with pytest.raises(DomainError) as caught:
        commands.issue(db, "cli", CommandName.SHOW_MESSAGE, device_ids=[device.id], args=args)
    assert caught.value.status == 422
    assert db.scalars(select(Command)).all() == []


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"portal_mode": "closed", "portal_code_secret": "x" * 32}, "the hotspot's page"),
        ({"idle_timeout_s": 600, "heartbeat_interval_s": 30}, "the site's page"),
    ],
)
def test_settings_the_controller_keeps_cannot_be_sent_as_a_plain_command(db, args, where):
    # Sent by hand, they would make the device and the controller's pages disagree (a code of
    # the day the portal refuses), and get round who may change them.
    admin = make_user(db, Role.ADMIN)
    device = make_device(db, kind=DeviceKind.HOTSPOT if "portal_mode" in args else DeviceKind.PC)

    with pytest.raises(DomainError, match=f"cannot be sent as a command: set {where}") as caught:
        commands.issue(db, admin, CommandName.UPDATE_CONFIG, device_ids=[device.id], args=args)

    assert caught.value.status == 422
    assert db.scalars(select(Command)).all() == []


def test_a_command_that_does_not_apply_to_the_kind_is_refused(db):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT)
    with pytest.raises(DomainError, match="does not apply"):
        commands.issue(db, "cli", CommandName.RESET_SESSION, device_ids=[hotspot.id])


def test_unknown_device_is_not_found(db):
    with pytest.raises(NotFound):
        commands.issue(db, "cli", CommandName.REBOOT, device_ids=["nope"])


def test_a_site_command_goes_to_every_fitting_device_as_one_batch(db):
    site = make_site(db)
    pcs = [make_device(db, site) for _ in range(3)]
    make_device(db, site, kind=DeviceKind.HOTSPOT)

    issued = commands.issue(db, "cli", CommandName.RESET_SESSION, site_id=site.id)

    assert {c.device_id for c in issued} == {pc.id for pc in pcs}
    assert len({c.batch_id for c in issued}) == 1 and issued[0].batch_id


def test_wake_is_sent_by_an_online_neighbour_with_the_targets_macs(db):
    site = make_site(db)
    sleeping = make_device(db, site, inventory={"macs": ["52:54:00:AA:BB:CC"]})
    make_device(db, site, status=DeviceStatus.ONLINE)
    hotspot = make_device(db, site, kind=DeviceKind.HOTSPOT, status=DeviceStatus.ONLINE)

    [command] = commands.issue(db, "cli", CommandName.WAKE, device_ids=[sleeping.id])

    assert command.runner_id == hotspot.id and command.device_id == sleeping.id
    assert command.args == {"target_device_id": sleeping.id, "macs": ["52:54:00:aa:bb:cc"]}


def test_wake_without_an_online_neighbour_is_refused(db):
    lonely = make_device(db, inventory={"macs": [MAC]})
    with pytest.raises(Conflict, match="no other device"):
        commands.issue(db, "cli", CommandName.WAKE, device_ids=[lonely.id])


def test_a_claim_is_granted_to_its_device_until_the_result_arrives(db):
    command = issue_one(db)
    first = commands.claim(db, command.runner_id, command.id)
    retried = commands.claim(db, command.runner_id, command.id)  # the first answer got lost
    db.refresh(command)
    assert first.ok and retried.ok
    assert command.started_at is not None and command.state == CommandState.SENT

    commands.record_result(db, command.runner_id, result(command))
    after = commands.claim(db, command.runner_id, command.id)
    assert not after.ok and after.reason == "claimed"


def test_a_late_claim_is_refused_and_the_command_expires(db):
    command = issue_one(db, ttl=timedelta(minutes=1))
    answer = commands.claim(db, command.runner_id, command.id, now=utcnow() + timedelta(minutes=2))
    assert not answer.ok and answer.reason == "expired"
    db.refresh(command)
    assert command.state == CommandState.EXPIRED and command.started_at is None


def test_another_device_cannot_claim_it(db):
    command = issue_one(db)
    stranger = make_device(db)
    answer = commands.claim(db, stranger.id, command.id)
    assert not answer.ok and answer.reason == "unknown"


def test_the_result_of_a_claimed_command_ends_it_and_is_audited(db):
    command = issue_one(db)
    commands.claim(db, command.runner_id, command.id)

    commands.record_result(db, command.runner_id, result(command, ok=False))

    assert command.state == CommandState.FAILED and command.output == "rebooting in 5 s"
    actions = db.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["command.issue", "command.result"]


def test_a_result_for_a_command_never_claimed_changes_nothing(db):
    command = issue_one(db)
    assert commands.record_result(db, command.runner_id, result(command)) is None
    assert command.state == CommandState.QUEUED


def test_results_arrive_through_the_agents_events(db, event_handlers):
    command = issue_one(db)
    commands.claim(db, command.runner_id, command.id)

    report = write_events(
        db, [_Pending(command.runner_id, [result(command)])], handlers=event_handlers
    )

    db.refresh(command)
    assert command.state == CommandState.DONE and command.duration_ms == 120
    assert [c["id"] for c in report.told("command")] == [command.id]


def test_overdue_commands_expire_and_silent_claims_fail(db):
    unclaimed = issue_one(db, ttl=timedelta(minutes=1))
    silent = issue_one(db, ttl=timedelta(minutes=1))
    commands.claim(db, silent.runner_id, silent.id)
    later = utcnow() + commands.RESULT_GRACE + timedelta(minutes=5)

    ended = commands.expire_overdue(db, later)

    assert {c.id for c in ended} == {unclaimed.id, silent.id}
    assert unclaimed.state == CommandState.EXPIRED and silent.state == CommandState.FAILED


def test_pending_commands_leave_out_claimed_and_expired_ones(db):
    device = make_device(db)
    waiting, claimed = (
        commands.issue(db, "cli", CommandName.REBOOT, device_ids=[device.id])[0] for _ in range(2)
    )
    commands.claim(db, device.id, claimed.id)
    assert [c.id for c in commands.pending_for(db, device.id)] == [waiting.id]
    assert commands.pending_for(db, device.id, utcnow() + timedelta(days=1)) == []


def test_a_device_outside_the_callers_places_is_refused_before_anything_about_it_shows(db):
    mediator = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    elsewhere = make_site(db, name="Médiathèque Kateb Yacine")
    hotspot = make_device(db, elsewhere, kind=DeviceKind.HOTSPOT, name="wifi-kateb")

    for request in (
        {"device_ids": [hotspot.id]},  # lock_screen does not apply to a hotspot: not said
        {"site_id": elsewhere.id},  # nor whether the site has screens
    ):
        with pytest.raises(PermissionDenied) as refused:
            commands.issue(db, mediator, CommandName.LOCK_SCREEN, **request)
        message = refused.value.message
        assert "wifi-kateb" not in message and "hotspot" not in message
        assert "Kateb" not in message

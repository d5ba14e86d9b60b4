"""Rollouts (controller/configuration/rollouts.py): at once, in waves with a check between them,
at a set time with a random spread; each device's state; rollback; agent upgrades that stop at
the first failure, and a new device sent the release its layers name; on SQLite and
PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import select

from agent.protocol import AGENT_FEATURES, EnrolResponse
from controller.audit import AuditLog
from controller.commands import service as commands
from controller.commands.models import Command, CommandState
from controller.config import load_controller_settings
from controller.configuration import catalogue, layers, rollouts
from controller.configuration.models import RolloutState, RolloutStrategy
from controller.configuration.rollouts import TargetState
from controller.db import utcnow
from controller.errors import Conflict, DomainError
from controller.fleet import enrolment
from tests.factories import INVENTORY, enrol_request, make_device, make_organisation, make_site

SETTINGS = load_controller_settings(overrides={"heartbeat_interval_s": 10})


@pytest.fixture
def network(db):
    """A library network: two sites of two PCs, the first site named first, their agents of
    today's release (they read every setting)."""
    organisation = make_organisation(db, name="Bibliothèques")
    first = make_site(db, organisation, name="A - Centre-Ville")
    second = make_site(db, organisation, name="B - Kateb Yacine")
    devices = [
        make_device(db, site, agent_features=list(AGENT_FEATURES))
        for site in (first, first, second, second)
    ]
    target = layers.find_target(db, "cli", "organisation", str(organisation.id))
    return target, first, second, devices


def _states(rollout):
    return {view.device_id: view.state for view in rollouts.targets_of(rollout)}


def test_now_sends_each_device_its_settings_at_once(db, network):
    target, _first, _second, devices = network

    rollout, issued = rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS)

    assert sorted(c.device_id for c in issued) == sorted(d.id for d in devices)
    assert all(
        c.args == {"heartbeat_interval_s": 30, "inventory_interval_s": 86400} for c in issued
    )
    assert set(_states(rollout).values()) == {TargetState.SENT}
    assert rollout.state == RolloutState.RUNNING


def test_waves_wait_for_the_first_site_then_send_the_rest(db, network, answer):
    target, first, _second, devices = network
    rollout, issued = rollouts.change(
        db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS, strategy="waves"
    )
    assert sorted(c.device_id for c in issued) == sorted(d.id for d in devices[:2])
    assert rollout.first_site_id == first.id
    assert rollouts.advance(db) == []  # the first wave has not answered yet

    for command in issued:
        answer(command)
    later = rollouts.advance(db)

    assert sorted(c.device_id for c in later) == sorted(d.id for d in devices[2:])
    for command in later:
        answer(command)
    rollouts.advance(db)
    assert rollout.state == RolloutState.DONE
    assert set(_states(rollout).values()) == {TargetState.APPLIED}


def test_a_device_that_fails_in_the_first_wave_halts_the_rollout_and_is_listed(db, network, answer):
    target, _first, _second, devices = network
    rollout, issued = rollouts.change(
        db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS, strategy="waves"
    )
    failing, fine = sorted(issued, key=lambda c: c.device_id == devices[1].id)
    answer(fine)
    answer(failing, ok=False, output="could not apply these settings; the previous ones are kept")

    assert rollouts.advance(db) == []
    assert rollout.state == RolloutState.HALTED
    failed = [v for v in rollouts.targets_of(rollout) if v.state is TargetState.FAILED]
    assert [v.device_id for v in failed] == [failing.device_id]
    assert "previous ones are kept" in failed[0].answer
    assert {_states(rollout)[d.id] for d in devices[2:]} == {TargetState.PENDING}
    assert db.scalar(select(AuditLog).where(AuditLog.action == "config.rollout_halted"))

    resumed = rollouts.resume(db, "cli", rollout.id)

    assert sorted(c.device_id for c in resumed) == sorted(d.id for d in devices[2:])
    assert rollout.state == RolloutState.RUNNING


def test_a_scheduled_rollout_spreads_devices_over_the_window(db, network):
    target, _first, _second, devices = network
    start = utcnow() + timedelta(hours=1)
    rollout, issued = rollouts.change(
        db,
        "cli",
        target,
        {"heartbeat_interval_s": 30},
        SETTINGS,
        strategy="scheduled",
        at=start,
        spread_s=600,
        rng=random.Random(4),
    )
    dues = sorted(t.due_at for t in rollout.targets)

    assert issued == [] and rollouts.advance(db) == []
    assert start <= dues[0] and dues[-1] <= start + timedelta(seconds=600)
    assert len(set(dues)) == len(devices)  # not all in the same second

    halfway = rollouts.advance(db, now=dues[1] + timedelta(microseconds=1))
    everyone = rollouts.advance(db, now=start + timedelta(seconds=601))

    assert len(halfway) == 2 and len(everyone) == 2
    assert {c.device_id for c in halfway + everyone} == {d.id for d in devices}


def test_rollback_goes_back_to_an_earlier_version_as_a_new_one(db, network, answer):
    target, _first, _second, devices = network
    rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS)
    rollouts.change(db, "cli", target, {"heartbeat_interval_s": 60}, SETTINGS)

    _rollout, issued = rollouts.rollback(db, "cli", target, 1, SETTINGS)

    layer = layers.layer_of(db, target)
    assert layer.version == 3 and layer.settings == {"heartbeat_interval_s": 30}
    assert layer.versions[0].note == "rollback to version 1"
    assert {c.args["heartbeat_interval_s"] for c in issued} == {30}
    assert len(issued) == len(devices)


def test_a_newer_version_replaces_the_unsent_part_of_an_older_rollout(db, network):
    target, _first, _second, devices = network
    older, _sent = rollouts.change(
        db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS, strategy="waves"
    )

    rollouts.change(db, "cli", target, {"heartbeat_interval_s": 60}, SETTINGS)

    assert older.state == RolloutState.SUPERSEDED
    assert {_states(older)[d.id] for d in devices[2:]} == {TargetState.SKIPPED}


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"strategy": "tomorrow"}, "a rollout goes now, waves, scheduled"),
        ({"strategy": "scheduled"}, "needs the time to start"),
        (
            {"strategy": "scheduled", "at": utcnow() - timedelta(hours=2)},
            "in the past",
        ),
        ({"strategy": "waves", "first_site_id": 999999}, "the first wave must be a site"),
    ],
)
def test_a_bad_rollout_is_refused_and_nothing_is_saved(db, network, options, says):
    target, *_rest = network

    with pytest.raises(DomainError, match=says):
        rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS, **options)

    assert layers.layer_of(db, target) is None
    assert db.scalars(select(Command)).all() == []


def test_the_same_settings_again_are_nothing_to_change(db, network):
    target, *_rest = network
    rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS)

    with pytest.raises(DomainError, match="nothing to change"):
        rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS)


def test_an_expired_command_counts_as_failed_not_delivered(db, network):
    target, *_rest = network
    rollout, issued = rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS)
    issued[0].state = CommandState.EXPIRED
    db.flush()

    view = next(v for v in rollouts.targets_of(rollout) if v.device_id == issued[0].device_id)
    assert view.state is TargetState.FAILED and "not delivered" in view.answer


def test_only_a_halted_rollout_resumes(db, network):
    target, *_rest = network
    rollout, _issued = rollouts.change(
        db, "cli", target, {"heartbeat_interval_s": 30}, SETTINGS, strategy=RolloutStrategy.NOW
    )

    with pytest.raises(Conflict):
        rollouts.resume(db, "cli", rollout.id)


UPGRADE_FAILED = "borne 0.2.0 did not come back within 300 s: rolled back to 0.1.1"


def test_settings_sent_carry_no_agent_version_until_a_layer_names_one(db, network, settings):
    target, *_rest = network

    _rollout, issued = rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, settings)

    assert all("agent_version" not in c.args for c in issued)


def test_a_rollout_naming_a_release_upgrades_agents_and_one_that_does_not_does_not(
    db, network, settings, release
):
    target, *_rest = network
    release("0.2.0")

    upgrade, issued = rollouts.change(db, "cli", target, {"agent_version": "0.2.0"}, settings)
    plain, _sent = rollouts.change(
        db, "cli", target, {"agent_version": "0.2.0", "heartbeat_interval_s": 30}, settings
    )
    unpinned, _sent = rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, settings)

    assert upgrade.upgrades_agent and rollouts.agent_versions(upgrade) == ["0.2.0"]
    assert {c.args["agent_version"] for c in issued} == {"0.2.0"}
    assert not plain.upgrades_agent  # the release is the same as before: settings only
    assert not unpinned.upgrades_agent  # devices keep the release they run
    assert all("agent_version" not in t.args for t in unpinned.targets)


def test_a_scheduled_agent_upgrade_halts_at_its_first_failed_device(
    db, network, settings, release, answer
):
    target, _first, _second, devices = network
    release("0.2.0")
    start = utcnow() + timedelta(minutes=5)
    rollout, _issued = rollouts.change(
        db,
        "cli",
        target,
        {"agent_version": "0.2.0"},
        settings,
        strategy="scheduled",
        at=start,
        spread_s=3600,
        rng=random.Random(7),
    )
    dues = sorted(t.due_at for t in rollout.targets)
    first = rollouts.advance(db, now=dues[0] + timedelta(microseconds=1))
    assert len(first) == 1

    answer(first[0], ok=False, output=UPGRADE_FAILED)
    later = rollouts.advance(db, now=dues[-1] + timedelta(seconds=1))

    assert later == []  # the three others keep their release
    assert rollout.state == RolloutState.HALTED
    assert list(_states(rollout).values()).count(TargetState.PENDING) == 3
    halted = db.scalar(select(AuditLog).where(AuditLog.action == "config.rollout_halted"))
    assert f"an agent upgrade failed on {first[0].device.name}" in halted.summary
    failed = [v for v in rollouts.targets_of(rollout) if v.state is TargetState.FAILED]
    assert [v.answer for v in failed] == [UPGRADE_FAILED]
    assert {v.device_id for v in rollouts.targets_of(rollout)} == {d.id for d in devices}


def test_an_agent_upgrade_at_once_halts_on_any_failure_and_resumes_past_it(
    db, network, settings, release, answer, monkeypatch
):
    target, *_rest = network
    release("0.2.0")
    monkeypatch.setattr(rollouts, "BATCH", 2)  # a big fleet: sent over several runs of the job
    rollout, issued = rollouts.change(db, "cli", target, {"agent_version": "0.2.0"}, settings)
    assert len(issued) == 2

    answer(issued[0])
    answer(issued[1], ok=False, output=UPGRADE_FAILED)
    assert rollouts.advance(db) == []
    assert rollout.state == RolloutState.HALTED

    resumed = rollouts.resume(db, "cli", rollout.id)
    assert len(resumed) == 2 and rollout.state == RolloutState.RUNNING
    answer(resumed[0])
    assert rollouts.advance(db) == []  # the failure a person saw does not halt it again
    assert rollout.state == RolloutState.RUNNING

    answer(resumed[1], ok=False, output=UPGRADE_FAILED)
    rollouts.advance(db)
    assert rollout.state == RolloutState.HALTED  # a new one does


def test_an_upgrade_halts_for_a_device_that_took_it_and_vanished_not_for_one_away(
    db, network, settings, release, monkeypatch
):
    target, *_rest = network
    release("0.2.0")
    monkeypatch.setattr(rollouts, "BATCH", 2)
    rollout, issued = rollouts.change(db, "cli", target, {"agent_version": "0.2.0"}, settings)
    away, vanished = issued
    assert commands.claim(db, vanished.runner_id, vanished.id).ok

    away.state = CommandState.EXPIRED  # switched off until its command expired
    db.flush()
    assert len(rollouts.advance(db)) == 2  # not halted: the rest is sent
    assert rollout.state == RolloutState.RUNNING

    vanished.state = CommandState.EXPIRED  # took it, and neither it nor its guard answered
    db.flush()
    rollouts.advance(db)
    assert rollout.state == RolloutState.HALTED


def test_a_settings_rollout_at_once_goes_on_past_a_failed_device(db, network, answer, settings):
    target, *_rest = network
    rollout, issued = rollouts.change(db, "cli", target, {"heartbeat_interval_s": 30}, settings)

    answer(issued[0], ok=False, output="could not apply these settings")
    for command in issued[1:]:
        answer(command)
    rollouts.advance(db)

    assert not rollout.upgrades_agent
    assert rollout.state == RolloutState.DONE


def test_a_resumed_wave_rollout_is_not_halted_again_by_the_failure_it_passed(
    db, network, answer, settings
):
    target, *_rest = network
    rollout, issued = rollouts.change(
        db, "cli", target, {"heartbeat_interval_s": 30}, settings, strategy="waves"
    )
    answer(issued[0], ok=False, output="could not apply these settings")
    answer(issued[1])
    rollouts.advance(db)
    for command in rollouts.resume(db, "cli", rollout.id):
        answer(command)

    rollouts.advance(db)

    assert rollout.state == RolloutState.DONE


def test_an_agent_that_cannot_upgrade_itself_is_failed_at_once_and_halts_the_upgrade(
    db, network, settings, release, answer
):
    target, first, _second, devices = network
    older = make_device(db, first, name="pc-ancien", inventory={"agent_version": "0.1.0"})
    release("0.2.0")

    rollout, issued = rollouts.change(
        db, "cli", target, {"agent_version": "0.2.0"}, settings, strategy="waves"
    )
    for command in issued:
        answer(command)
    rollouts.advance(db)

    views = {v.device_id: v for v in rollouts.targets_of(rollout)}
    assert sorted(c.device_id for c in issued) == sorted(d.id for d in devices[:2])
    assert views[older.id].state is TargetState.FAILED
    assert views[older.id].answer == "this agent cannot upgrade itself: re-provision it"
    assert rollout.state == RolloutState.HALTED  # the second site keeps its release
    assert [views[d.id].state for d in devices[2:]] == [TargetState.PENDING] * 2
    halted = db.scalar(select(AuditLog).where(AuditLog.action == "config.rollout_halted"))
    assert "pc-ancien cannot upgrade itself: re-provision it" in halted.summary
    assert db.scalars(select(Command).where(Command.device_id == older.id)).all() == []

    resumed = rollouts.resume(db, "cli", rollout.id)  # a person saw it: the rest goes

    assert sorted(c.device_id for c in resumed) == sorted(d.id for d in devices[2:])
    assert _states(rollout)[older.id] is TargetState.FAILED


def test_settings_that_upgrade_nobody_reach_an_older_agent_without_the_release(
    db, network, settings, release
):
    target, first, _second, _devices = network
    older = make_device(db, first, inventory={"agent_version": "0.1.0"})
    release("0.2.0")
    rollouts.change(db, "cli", target, {"agent_version": "0.2.0"}, settings)

    rollout, issued = rollouts.change(
        db, "cli", target, {"agent_version": "0.2.0", "heartbeat_interval_s": 30}, settings
    )

    [sent] = [c for c in issued if c.device_id == older.id]
    assert not rollout.upgrades_agent
    assert sent.args == {"heartbeat_interval_s": 30, "inventory_interval_s": 86400}
    assert all(c.args["agent_version"] == "0.2.0" for c in issued if c.device_id != older.id)


def test_an_older_agent_already_on_the_release_is_not_failed(db, network, settings, release):
    target, first, *_rest = network
    on_it = make_device(db, first, inventory={"agent_version": "0.2.0"})
    release("0.2.0")

    rollout, issued = rollouts.change(db, "cli", target, {"agent_version": "0.2.0"}, settings)

    [sent] = [c for c in issued if c.device_id == on_it.id]
    assert "agent_version" not in sent.args
    assert _states(rollout)[on_it.id] is TargetState.SENT


def _pin(db, scope, target_id, version, **others):
    target = layers.find_target(db, "cli", scope, str(target_id))
    values = catalogue.check_layer({"agent_version": version, **others})
    layers.save_version(db, "cli", target, values)


def _enrol(client, db, site, agent_version="", features=AGENT_FEATURES):
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))
    db.commit()
    request = msgspec.structs.replace(
        enrol_request(issued.token),
        inventory=msgspec.structs.replace(INVENTORY, agent_version=agent_version),
        features=list(features),
    )
    answer = client.post("/api/v1/enrol", json=msgspec.to_builtins(request))
    assert answer.status_code == 201, answer.get_json()
    return msgspec.convert(answer.get_json(), EnrolResponse)


def test_a_pc_enrolled_into_a_pinned_site_is_sent_its_release_at_once(client, db, release):
    site = make_site(db)
    release("0.2.0")
    _pin(db, "site", site.id, "0.2.0", heartbeat_interval_s=20)
    db.commit()

    enrolled = _enrol(client, db, site, agent_version="0.1.1")

    sent = db.scalars(select(Command).where(Command.device_id == enrolled.device_id)).all()
    # The identity's settings: the layers' values, but no release (that is a command).
    assert enrolled.remote_settings is not None
    assert enrolled.remote_settings.heartbeat_interval_s == 20
    assert enrolled.remote_settings.agent_version is None
    assert [c.name for c in sent] == ["update_config"]
    assert sent[0].args == {
        "agent_version": "0.2.0",
        "heartbeat_interval_s": 20,
        "inventory_interval_s": catalogue.AGENT_INVENTORY_INTERVAL_S,
    }


def test_a_pc_enrolled_already_on_its_release_or_unpinned_is_sent_nothing(client, db, release):
    pinned, free = make_site(db), make_site(db)
    release("0.2.0")
    _pin(db, "site", pinned.id, "0.2.0")
    db.commit()

    on_it = _enrol(client, db, pinned, agent_version="0.2.0")
    unpinned = _enrol(client, db, free, agent_version="0.1.1")

    sent = db.scalars(select(Command.device_id)).all()
    assert on_it.device_id not in sent and unpinned.device_id not in sent


def test_a_pc_enrolled_with_an_agent_that_cannot_upgrade_is_sent_nothing(client, db, release):
    site = make_site(db)
    release("0.2.0")
    _pin(db, "site", site.id, "0.2.0")
    db.commit()

    older = _enrol(client, db, site, agent_version="0.1.0", features=())

    assert db.scalars(select(Command).where(Command.device_id == older.device_id)).all() == []

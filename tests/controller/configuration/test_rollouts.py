"""Rollouts (controller/configuration/rollouts.py): at once, in waves with a check between them,
at a set time with a random spread; each device's state; rollback; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from controller.audit import AuditLog
from controller.commands.models import Command, CommandState
from controller.config import load_controller_settings
from controller.configuration import layers, rollouts
from controller.configuration.models import RolloutState, RolloutStrategy
from controller.configuration.rollouts import TargetState
from controller.db import utcnow
from controller.errors import Conflict, DomainError
from tests.factories import make_device, make_organisation, make_site

SETTINGS = load_controller_settings(overrides={"heartbeat_interval_s": 10})


@pytest.fixture
def network(db):
    """A library network: two sites of two PCs, the first site named first."""
    organisation = make_organisation(db, name="Bibliothèques")
    first = make_site(db, organisation, name="A - Centre-Ville")
    second = make_site(db, organisation, name="B - Kateb Yacine")
    devices = [make_device(db, site) for site in (first, first, second, second)]
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

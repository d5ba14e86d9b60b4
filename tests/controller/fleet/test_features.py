"""What a device's agent reads (controller/fleet/features.py): the features it listed at
enrolment and in its heartbeats, or, for older agents, what its heartbeat's state keys and its
kind say; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy import inspect

from agent.protocol import (
    AGENT_FEATURES,
    PORTAL_READS_NEARBY,
    AgentFeature,
    DeviceKind,
    Heartbeat,
    Metrics,
)
from controller.fleet import enrolment, features
from controller.fleet.ingest import _Pending, write_events
from controller.fleet.models import Device
from tests.factories import enrol_request, make_device, make_site

# What a public PC is sent when its site's session limits change.
LIMITS = {
    "idle_timeout_s": 600,
    "max_session_s": 0,
    "site_language": "fr",
    "site_timezone": "Europe/Paris",
}
EVERYTHING = {
    **LIMITS,
    "heartbeat_interval_s": 30,
    "out_of_service": True,
    "portal_nearby_places": [],
    "agent_version": "0.2.0",
}
METRICS = Metrics(
    cpu_percent=1.0, memory_total_bytes=1, memory_used_bytes=1, memory_percent=1.0, uptime_s=1
)


def heartbeat(seq: int, features: list[str]) -> Heartbeat:
    return Heartbeat(
        seq=seq, at=datetime.now(UTC), interval_s=10, metrics=METRICS, features=features
    )


def test_an_agent_that_lists_a_feature_reads_its_fields(db):
    pc = make_device(db, agent_features=["site_locale"])

    assert features.readable(pc, LIMITS) == LIMITS
    assert features.reads(pc, "site_timezone") and not features.reads(pc, "agent_version")


def test_an_agent_of_today_reads_everything(db):
    pc = make_device(db, agent_features=list(AGENT_FEATURES))

    assert features.readable(pc, EVERYTHING) == EVERYTHING


def test_an_older_agent_that_says_the_state_key_reads_the_field(db):
    pc = make_device(db, metrics={"state": {"session": "none", "language": "fr"}})

    assert features.readable(pc, LIMITS) == LIMITS
    assert features.features_of(pc) == {AgentFeature.SITE_LOCALE}


def test_a_state_key_also_means_the_features_that_came_before_it(db):
    hotspot = make_device(
        db,
        kind=DeviceKind.HOTSPOT,
        metrics={"state": {"portal": "running", PORTAL_READS_NEARBY: "1"}},
    )

    assert features.features_of(hotspot) == {
        AgentFeature.SITE_LOCALE,
        AgentFeature.OUT_OF_SERVICE,
        AgentFeature.PORTAL_NEARBY,
    }
    assert not features.reads(hotspot, "agent_version")  # upgrades came with the list


def test_an_agent_that_says_neither_gets_only_the_first_fields(db):
    pc = make_device(db, metrics={"state": {"session": "none"}})

    assert features.readable(pc, EVERYTHING) == {
        "idle_timeout_s": 600,
        "max_session_s": 0,
        "heartbeat_interval_s": 30,
    }
    assert features.features_of(make_device(db)) == frozenset()  # never heard from


def test_every_kiosk_reads_the_sites_locale_and_out_of_service(db):
    kiosk = make_device(db, kind=DeviceKind.KIOSK)  # its agent came after both

    assert features.readable(kiosk, EVERYTHING).keys() == EVERYTHING.keys() - {
        "portal_nearby_places",
        "agent_version",
    }


def test_unknown_features_are_ignored(db):
    pc = make_device(db, agent_features=["later_feature", "agent_upgrade"])

    assert features.features_of(pc) == {AgentFeature.AGENT_UPGRADE}


def test_each_heartbeat_says_what_the_agent_reads_now(db):
    pc = make_device(db)

    write_events(db, [_Pending(pc.id, [heartbeat(1, [*AGENT_FEATURES, "later_feature"])])])
    db.expire_all()
    listed = db.get(Device, pc.id).agent_features
    # Its guard put back a release older than the list: it says nothing any more.
    write_events(db, [_Pending(pc.id, [heartbeat(2, [])])])
    db.expire_all()

    assert set(listed) == {*AGENT_FEATURES, "later_feature"}
    assert db.get(Device, pc.id).agent_features == []
    assert not features.reads(db.get(Device, pc.id), "agent_version")


@pytest.mark.parametrize(("listed", "reads_upgrades"), [(list(AGENT_FEATURES), True), ([], False)])
def test_enrolment_keeps_what_the_agent_said_it_reads(db, listed, reads_upgrades):
    issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
    request = msgspec.structs.replace(enrol_request(issued.token), features=listed)

    answer = enrolment.enrol(db, request, heartbeat_interval_s=10)

    device = db.get(Device, answer.device_id)
    assert sorted(device.agent_features) == sorted(listed)
    assert features.reads(device, "agent_version") is reads_upgrades


def test_devices_are_loaded_with_what_says_their_features(db):
    older = make_device(db, metrics={"state": {"language": "fr"}})
    newer = make_device(db, agent_features=["site_locale"])
    db.expunge_all()
    plain = db.get(Device, older.id)  # as most reads load a device: its metrics deferred
    assert "metrics" in inspect(plain).unloaded

    found = features.devices_with_features(db, [newer.id, "no-such-device", older.id])

    assert [d.id for d in found] == [newer.id, older.id]
    assert found[1] is plain and not {"metrics", "agent_features"} & inspect(plain).unloaded
    assert all(features.reads(d, "site_language") for d in found)

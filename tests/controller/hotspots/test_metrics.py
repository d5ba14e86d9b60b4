"""Hotspots' portal figures for Prometheus (controller/hotspots/metrics.py): read from what the
hotspots reported, per hotspot, only for hotspots the controller hears from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest

from agent import protocol
from agent.hotspot import PortalWatch
from agent.protocol import PortalModeName
from agent.spool import Spool
from captive_portal.snapshot import PortalSnapshot, write_snapshot
from controller.fleet.ingest import _Pending, write_events
from controller.fleet.models import DeviceStatus
from controller.hotspots.metrics import PortalCollector
from controller.hotspots.models import PortalDay, PortalHour
from tests.factories import make_device, make_hotspot, make_site

# 23:20 in Paris on 22 November: UTC is still at 22:20, and the hotspots' day is the 22nd.
NOW = datetime(2026, 11, 22, 22, 20, tzinfo=UTC)
THIS_HOUR = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)


def portal_registry(app) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(PortalCollector(app.extensions["borne.db"], "Europe/Paris", lambda: NOW))
    return registry


def heard_hotspot(db, site=None, *, state=None, **overrides):
    """A hotspot online (unless ``overrides`` say otherwise), whose latest heartbeat carried
    ``state``."""
    state = {"portal": "running", "portal_clients": "7"} if state is None else state
    return make_hotspot(
        db,
        site,
        **{
            "status": DeviceStatus.ONLINE,
            "last_seen_at": NOW,
            "metrics": {"cpu_percent": 3.0, "state": state},
            **overrides,
        },
    )


def report(db, hotspot, *, hour=THIS_HOUR, connections=0, day=TODAY, unique_devices=0):
    db.add(
        PortalHour(
            device_id=hotspot.id, site_id=hotspot.site_id, hour=hour, connections=connections
        )
    )
    db.add(
        PortalDay(
            device_id=hotspot.id,
            site_id=hotspot.site_id,
            day=day,
            unique_devices=unique_devices,
            peak_clients=0,
        )
    )
    db.flush()


def devices_in(registry) -> set[str]:
    """The devices any portal figure is about."""
    return {s.labels["device"] for family in registry.collect() for s in family.samples}


def value(registry, name, hotspot, **labels):
    return registry.get_sample_value(
        name, {"device": hotspot.id, "name": hotspot.name, "site": hotspot.site.slug, **labels}
    )


def test_a_heard_hotspot_gives_its_portal_state_clients_and_counts(app, db):
    hotspot = heard_hotspot(db, make_site(db, slug="bib-kateb-yacine"))
    report(db, hotspot, connections=12, unique_devices=25)
    report(db, hotspot, hour=THIS_HOUR - timedelta(hours=1), connections=30, day=date(2026, 11, 21))

    registry = portal_registry(app)

    assert value(registry, "borne_portal_up", hotspot) == 1
    assert value(registry, "borne_portal_clients", hotspot) == 7
    assert value(registry, "borne_portal_connections_this_hour", hotspot) == 12  # not the 30
    assert value(registry, "borne_portal_devices_today", hotspot) == 25


def test_the_day_is_the_controllers_local_day_not_utcs(app, db):
    hotspot = heard_hotspot(db)
    # At 00:20 in Paris the hotspot counts the 23rd while UTC is still on the 22nd.
    report(db, hotspot, day=date(2026, 11, 23), unique_devices=4)
    registry = CollectorRegistry()
    registry.register(
        PortalCollector(
            app.extensions["borne.db"], "Europe/Paris", lambda: NOW + timedelta(hours=1)
        )
    )
    assert value(registry, "borne_portal_devices_today", hotspot) == 4


def test_a_portal_that_does_not_run_is_down_and_counts_no_clients(app, db):
    hotspot = heard_hotspot(db, state={"portal": "not running"})

    registry = portal_registry(app)

    assert value(registry, "borne_portal_up", hotspot) == 0
    assert value(registry, "borne_portal_clients", hotspot) is None


def test_no_report_yet_this_hour_or_today_counts_zero(app, db):
    hotspot = heard_hotspot(db)
    report(db, hotspot, hour=THIS_HOUR - timedelta(hours=3), connections=9, day=date(2026, 11, 20))

    registry = portal_registry(app)

    assert value(registry, "borne_portal_connections_this_hour", hotspot) == 0
    assert value(registry, "borne_portal_devices_today", hotspot) == 0


def test_an_unheard_or_retired_hotspot_gives_no_figures_of_use(app, db):
    offline = heard_hotspot(db, status=DeviceStatus.OFFLINE)
    report(db, offline, connections=12, unique_devices=25)
    retired = heard_hotspot(db, retired_at=NOW)
    pc = make_device(db, status=DeviceStatus.ONLINE, metrics={"state": {"portal": "running"}})

    assert devices_in(portal_registry(app)).isdisjoint({offline.id, retired.id, pc.id})


def test_a_garbled_client_count_is_left_out_not_fatal(app, db):
    hotspot = heard_hotspot(db, state={"portal": "running", "portal_clients": "many"})

    registry = portal_registry(app)

    assert value(registry, "borne_portal_up", hotspot) == 1
    assert value(registry, "borne_portal_clients", hotspot) is None


def test_the_mode_set_from_the_controller_is_given_even_offline(app, db):
    closed = make_hotspot(db, mode=PortalModeName.CLOSED, status=DeviceStatus.OFFLINE)
    heard_hotspot(db)  # never set from the controller: its mode is its own file's

    registry = portal_registry(app)

    assert value(registry, "borne_portal_mode", closed, mode="closed") == 1
    assert value(registry, "borne_portal_mode", closed, mode="click") is None
    with_mode = {
        sample.labels["device"]
        for family in registry.collect()
        if family.name == "borne_portal_mode"
        for sample in family.samples
    }
    assert with_mode == {closed.id}


def test_every_family_is_declared_with_no_hotspot_at_all(app):
    text = generate_latest(portal_registry(app)).decode()

    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert declared == {
        "borne_portal_up",
        "borne_portal_clients",
        "borne_portal_connections_this_hour",
        "borne_portal_devices_today",
        "borne_portal_mode",
    }


def test_what_a_real_hotspot_agent_sends_becomes_its_figures(app, db, event_handlers, tmp_path):
    """The portal's snapshot, read by the agent's hotspot role, through the controller's ingest:
    the names the collector reads are the ones the agent writes."""
    hotspot = make_hotspot(db)
    (tmp_path / "portal").mkdir()
    (tmp_path / "agent").mkdir()
    write_snapshot(
        tmp_path / "portal",
        PortalSnapshot(
            at=NOW,
            day=TODAY,
            clients_now=5,
            connections_by_hour={THIS_HOUR: 9},
            unique_devices_today=14,
        ),
    )
    spool = Spool(tmp_path / "spool.db")
    watch = PortalWatch(
        portal_state_dir=tmp_path / "portal",
        state_dir=tmp_path / "agent",
        events=spool,
        now=lambda: NOW,
    )
    stats = watch.tick()
    spool.close()
    assert stats is not None
    heartbeat = protocol.Heartbeat(
        seq=stats.seq + 1,
        at=NOW,
        interval_s=10,
        metrics=protocol.Metrics(
            cpu_percent=2.0,
            memory_total_bytes=1 << 30,
            memory_used_bytes=1 << 28,
            memory_percent=25.0,
            uptime_s=3600,
        ),
        state=watch.state(),
    )

    write_events(db, [_Pending(hotspot.id, [stats, heartbeat])], handlers=event_handlers)
    registry = portal_registry(app)

    assert value(registry, "borne_portal_up", hotspot) == 1
    assert value(registry, "borne_portal_clients", hotspot) == 5
    assert value(registry, "borne_portal_connections_this_hour", hotspot) == 9
    assert value(registry, "borne_portal_devices_today", hotspot) == 14

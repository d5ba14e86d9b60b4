"""Charging kiosks' figures for Prometheus (controller/lockers/metrics.py): lockers by site and
state as the kiosks last reported them, and the phones charged per site, at ``/metrics``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from agent import protocol
from agent.protocol import ChargingEnd, LockerState
from tests.factories import make_site

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)


def scraped(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` named borne_lockers or borne_charging_sessions_total."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
        if sample.name in ("borne_lockers", "borne_charging_sessions_total")
    }


def charged(seq: int) -> protocol.ChargingSession:
    return protocol.ChargingSession(
        seq=seq,
        at=NOW,
        locker=1,
        started_at=NOW - timedelta(minutes=30),
        ended_at=NOW,
        ended_by=ChargingEnd.CODE,
    )


def test_lockers_by_site_and_state_and_phones_charged(
    client, db, make_kiosk, send_events, lockers_report
):
    hall, library, quiet = make_site(db, slug="hall"), make_site(db, slug="library"), make_site(db)
    first, second = make_kiosk(hall), make_kiosk(hall)
    send_events(first, lockers_report(1, n1=LockerState.OCCUPIED, n2=LockerState.OVERTIME))
    send_events(second, lockers_report(1, NOW, {1: LockerState.FREE, 2: LockerState.OUT_OF_ORDER}))
    send_events(first, charged(2), charged(3), charged(3))  # the last one a replay
    send_events(make_kiosk(library), charged(1))
    make_kiosk(quiet)  # never reported: no series
    gone = make_kiosk(library, retired_at=NOW)
    send_events(gone, lockers_report(1))

    figures = scraped(client)

    def lockers(site: str, state: str) -> float | None:
        return figures.get(("borne_lockers", (("site", site), ("state", state))))

    assert lockers("hall", "free") == 7
    assert (lockers("hall", "occupied"), lockers("hall", "overtime")) == (1, 1)
    assert lockers("hall", "out_of_order") == 1
    assert lockers("hall", "deposit") == 0  # written out: no locker is a figure too
    assert lockers("library", "free") is None  # its only reporting kiosk is retired
    assert figures[("borne_charging_sessions_total", (("site", "hall"),))] == 2
    assert figures[("borne_charging_sessions_total", (("site", "library"),))] == 1
    assert not any(dict(labels).get("site") == quiet.slug for _, labels in figures)

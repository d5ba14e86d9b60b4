"""Fixtures of the lockers' tests: charging kiosks, and what they report through the ingest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent import protocol
from agent.protocol import DeviceKind, DoorState, LockerState
from controller.fleet.ingest import FlushReport, _Pending, write_events
from controller.fleet.models import Device, DeviceStatus
from tests.factories import make_device

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def make_kiosk(db) -> Callable[..., Device]:
    """``make_kiosk(site=None, **overrides)``: a charging kiosk."""

    def make(site: Any = None, **overrides: Any) -> Device:
        return make_device(db, site, kind=DeviceKind.KIOSK, **overrides)

    return make


@pytest.fixture
def send_events(db, event_handlers) -> Callable[..., FlushReport]:
    """``send_events(device, *events)``: the events through the ingest, in the test's
    transaction, handled by the domains as the app wires them."""

    def send(device: Device, *events: Any) -> FlushReport:
        return write_events(db, [_Pending(device.id, list(events))], handlers=event_handlers)

    return send


def eight_lockers(**changed: LockerState) -> dict[int, LockerState]:
    """Eight lockers, free but those named: ``eight_lockers(n3=LockerState.OCCUPIED)``."""
    return {n: changed.get(f"n{n}", LockerState.FREE) for n in range(1, 9)}


@pytest.fixture
def lockers_report() -> Callable[..., protocol.LockersReport]:
    """``lockers_report(seq, at=NOW, states=None, driver_ok=True, driver_message="", since=None,
    **changed)``: a kiosk's report; ``states`` maps each locker to its state (default: eight
    lockers, free but those named as in ``n3=LockerState.OCCUPIED``); a door is open only for a
    deposit; locker n entered its state n minutes before ``since`` (default: ``at``)."""

    def report(
        seq: int,
        at: datetime = NOW,
        states: dict[int, LockerState] | None = None,
        *,
        driver_ok: bool = True,
        driver_message: str = "",
        since: datetime | None = None,
        **changed: LockerState,
    ) -> protocol.LockersReport:
        states = states if states is not None else eight_lockers(**changed)
        return protocol.LockersReport(
            seq=seq,
            at=at,
            lockers=[
                protocol.Locker(
                    number=number,
                    state=state,
                    door=DoorState.OPEN if state == LockerState.DEPOSIT else DoorState.CLOSED,
                    since=(since or at) - timedelta(minutes=number),
                )
                for number, state in states.items()
            ],
            driver_ok=driver_ok,
            driver_message=driver_message,
        )

    return report


@pytest.fixture
def reported_kiosk(make_kiosk, send_events, lockers_report) -> Device:
    """A kiosk online, "borne-hall", with eight lockers: the third holds a phone past its time,
    the first and second charge one, the eighth is out of order."""
    kiosk = make_kiosk(name="borne-hall", status=DeviceStatus.ONLINE)
    send_events(
        kiosk,
        lockers_report(
            1,
            n1=LockerState.OCCUPIED,
            n2=LockerState.OCCUPIED,
            n3=LockerState.OVERTIME,
            n8=LockerState.OUT_OF_ORDER,
        ),
    )
    return kiosk

"""Fixtures of the public pages' tests: public places with devices in a known state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.protocol import PORTAL_READS_NEARBY, DeviceKind, DoorState, LockerState
from controller.fleet.models import Device, DeviceStatus
from controller.lockers.models import Locker, LockerBank
from tests.factories import make_device

# A Wednesday, 10:00 in Grenoble (UTC+1 in winter).
NOW = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_pc(db) -> Callable[..., Device]:
    """``make_pc(site, session=None, **overrides)``: an online public PC, in a resident's
    session when ``session="active"``."""

    def make(site: Any, session: str | None = None, **overrides: Any) -> Device:
        state = {"session": session} if session else {}
        return make_device(
            db,
            site,
            kind=DeviceKind.PC,
            **{"status": DeviceStatus.ONLINE, "metrics": {"state": state}, **overrides},
        )

    return make


@pytest.fixture
def make_live_hotspot(db) -> Callable[..., Device]:
    """``make_live_hotspot(site, running=True, **overrides)``: an online hotspot whose portal
    runs (or not), and whose agent reads the nearby places."""

    def make(site: Any, running: bool = True, **overrides: Any) -> Device:
        state = {"portal": "running" if running else "not running", PORTAL_READS_NEARBY: "1"}
        return make_device(
            db,
            site,
            kind=DeviceKind.HOTSPOT,
            **{"status": DeviceStatus.ONLINE, "metrics": {"state": state}, **overrides},
        )

    return make


@pytest.fixture
def make_kiosk_with(db) -> Callable[..., Device]:
    """``make_kiosk_with(site, [states], **overrides)``: an online kiosk whose lockers last
    reported these states."""

    def make(site: Any, states: list[LockerState], **overrides: Any) -> Device:
        kiosk = make_device(
            db, site, kind=DeviceKind.KIOSK, **{"status": DeviceStatus.ONLINE, **overrides}
        )
        db.add(LockerBank(device_id=kiosk.id, reported_at=NOW, updated_at=NOW))
        for number, state in enumerate(states, start=1):
            db.add(
                Locker(
                    device_id=kiosk.id,
                    number=number,
                    state=state,
                    door=DoorState.CLOSED,
                    since=NOW,
                    updated_at=NOW,
                )
            )
        db.flush()
        return kiosk

    return make

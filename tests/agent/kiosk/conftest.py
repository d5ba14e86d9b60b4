"""The kiosk's tests: a bank of simulated lockers over a real store and a real spool, on a clock
the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kiosk_testkit import Clock

from agent.kiosk.bank import Bank, BankConfig
from agent.kiosk.drivers import LockerDriver, SimulatedBank
from agent.kiosk.store import STORE_FILE, Store
from agent.protocol import AgentEvent
from agent.spool import Spool

E = TypeVar("E", bound=AgentEvent)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.sqlite3")
    yield spool
    spool.close()


@pytest.fixture
def lockers() -> SimulatedBank:
    """The hardware: eight lockers, locked and shut. It outlives a bank, as a real one
    outlives the agent."""
    return SimulatedBank(8)


@pytest.fixture
def make_bank(
    tmp_path: Path, spool: Spool, clock: Clock, lockers: SimulatedBank
) -> Iterator[Callable[..., Bank]]:
    """Builds banks on one state directory (building one again is restarting the kiosk)."""
    stores: list[Store] = []

    def build(
        driver: LockerDriver | None = None, config: BankConfig | None = None, **kwargs: Any
    ) -> Bank:
        store = Store(tmp_path / STORE_FILE)
        stores.append(store)
        return Bank(
            driver if driver is not None else lockers,
            store,
            events=spool,
            config=config,
            now=clock,
            **kwargs,
        )

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def bank(make_bank: Callable[..., Bank]) -> Bank:
    return make_bank()


@pytest.fixture
def spooled(spool: Spool) -> Callable[[type[E]], list[E]]:
    """The events of one type waiting in the spool, oldest first."""

    def of_type(kind: type[E]) -> list[E]:
        batch = spool.pending_batch(limit=10_000)
        events = batch.events if batch is not None else []
        return [event for event in events if isinstance(event, kind)]

    return of_type

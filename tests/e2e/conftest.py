"""Fixtures for tests that start real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser_testkit import chromium
from tests.e2e.controller_process import DEMO_PLACES, ControllerProcess


@pytest.fixture
def live_controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    """A migrated controller with the demo places imported, serving on a free loopback port."""
    controller = ControllerProcess(tmp_path / "controller")
    controller.data_dir.mkdir(parents=True)
    controller.migrate()
    controller.cli("places", "import", str(DEMO_PLACES))
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched

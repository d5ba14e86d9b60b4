"""Fixtures for tests that start real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.controller_process import ControllerProcess

DEMO_PLACES = Path(__file__).resolve().parents[2] / "controller" / "data" / "demo-places.csv"


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

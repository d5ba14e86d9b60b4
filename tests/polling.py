"""Waiting on a condition in tests: poll until it holds, fail the test after a timeout.

One helper for every test that waits on something real (a process, a mount, a kernel set, a
page): no sleep-and-hope, and a message that says what never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 5.0,
    what: str = "condition",
    interval: float = 0.02,
) -> Any:
    """Poll ``condition`` until it is truthy and return its value; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)

"""Long CPU work off the gevent hub (controller/offload.py): a password check must not stall the
process's thousands of agents."""

from __future__ import annotations

import subprocess
import sys
import threading

from controller.offload import offload

ON_GEVENT = """
from gevent import monkey
monkey.patch_all()
from gevent.monkey import get_original
native_id = get_original("threading", "get_native_id")
from controller.offload import offload
print("off the hub" if offload(native_id) != native_id() else "on the hub")
"""


def test_under_gevent_the_work_runs_on_a_native_thread_not_the_hub():
    # A fresh interpreter, as `borne controller run` is: the test session never imports gevent.
    answer = subprocess.run(
        [sys.executable, "-c", ON_GEVENT], capture_output=True, text=True, timeout=60, check=True
    )
    assert answer.stdout.strip() == "off the hub"


def test_without_gevent_the_work_is_simply_called():
    assert offload(threading.get_native_id) == threading.get_native_id()
    assert offload(pow, 2, 10) == 1024

"""Work that holds a CPU for long, run where it does not stall the process's other clients.

A controller process serves thousands of agents from one gevent hub: an argon2 password check
(tens of milliseconds of CPU, on purpose) run on the hub delays every heartbeat's
acknowledgement and every page while it runs. Under gevent, :func:`offload` runs it on the
hub's pool of native threads (argon2-cffi releases the GIL), and the greenlet that asked waits
without blocking the others; elsewhere (threads, the command line, tests) it simply calls it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def offload(function: Callable[..., T], *args: object) -> T:
    """``function(*args)``, off the gevent hub when the process runs on one."""
    if "gevent" in sys.modules:  # never imported unless the process runs on gevent
        from gevent import get_hub, monkey

        if monkey.is_module_patched("threading"):
            result: T = get_hub().threadpool.apply(function, args)
            return result
    return function(*args)

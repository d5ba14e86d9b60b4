"""A step run every few seconds on a thread of its own, until stopped: the agent's watchers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``step`` now, then every ``every_s`` seconds, until :meth:`stop`.

    A failing step is logged and the next one runs on time: a probe's hiccup must not stop the
    watching.
    """

    def __init__(self, name: str, every_s: float, step: Callable[[], object]) -> None:
        self.name = name
        self.every_s = every_s
        self.step = step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                self.step()
            except Exception:
                log.exception("%s failed", self.name)
            if self._stop.wait(self.every_s):
                return

"""``python -m controller.serve``: one controller process on gevent (``borne controller run``).

gevent patches the standard library first, before any other import, so that sockets, locks and
the database drivers cooperate: one process then holds thousands of agent connections, each a
greenlet rather than threads (flask-socketio's threading mode costs about four per connection).
"""

from gevent import monkey

monkey.patch_all()

# ruff: noqa: E402
import argparse
import gc
import logging
import signal
import threading

import gevent

from borne.settings import ImproperlyConfigured
from controller.app import create_app
from controller.jobs import run_jobs

log = logging.getLogger("borne.controller")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="borne controller run")
    parser.add_argument("--config", default=None)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    overrides = {"async_mode": "gevent"}
    try:
        if args.config:
            import os

            os.environ["BORNE_CONFIG"] = args.config
        app = create_app(overrides)
    except ImproperlyConfigured as exc:
        log.error("configuration: %s", exc)
        return 2
    hub = app.extensions["socketio"]
    # What exists now lives as long as the process: keep the collector from rescanning it, and
    # collect less often. Thousands of connections allocate fast, and the default thresholds
    # spent a fifth of the heartbeat path in the collector.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    ingest = app.extensions["borne.ingest"]
    stop = threading.Event()
    jobs = gevent.spawn(run_jobs, app, stop)  # each domain's periodic jobs

    def shutdown() -> None:
        log.info("stopping: finishing the writes under way")
        stop.set()
        ingest.stop()
        hub.stop()

    gevent.signal_handler(signal.SIGTERM, shutdown)
    gevent.signal_handler(signal.SIGINT, shutdown)
    log.info("controller listening on http://%s:%d", args.host, args.port)
    hub.run(app, host=args.host, port=args.port, log_output=False, use_reloader=False)
    jobs.join(timeout=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

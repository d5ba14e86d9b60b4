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
import resource
import signal
import threading

import gevent

from borne.settings import ImproperlyConfigured
from controller.app import create_app
from controller.jobs import run_jobs
from controller.websocket_files import OneFilePerWebSocket

log = logging.getLogger("borne.controller")
# Each agent's WebSocket holds one open file here (controller/websocket_files.py). Past the
# limit, the next agent's upgrade fails (an HTTP 500, "Too many open files" in this log) while
# those connected stay; some files stay in reserve for the database, Redis, logs and browsers.
FILES_PER_AGENT = 1
FILES_IN_RESERVE = 200


def open_files_for_agents() -> tuple[int, int]:
    """Raise this process's open-files limit to the most it may have (``ulimit -Hn``, systemd's
    ``LimitNOFILE=``): the limit, and about how many agents it lets this process hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # Linux bounds both by fs.nr_open: never infinite
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft, max(0, (soft - FILES_IN_RESERVE) // FILES_PER_AGENT)


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
    app.wsgi_app = OneFilePerWebSocket(app.wsgi_app)  # type: ignore[method-assign]
    hub = app.extensions["socketio"]
    # What exists now lives as long as the process: keep the collector from rescanning it, and
    # collect less often. Thousands of connections allocate fast, and the default thresholds
    # spent a fifth of the heartbeat path in the collector.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    files, agents = open_files_for_agents()
    log.info("open files limit %d: room for about %d connected agents", files, agents)
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

"""A throwaway nginx for a test (Debian's nginx, installed by make), like tests/postgres.py.

It runs in the foreground from a temporary prefix with the site configuration it is given inside
its ``http {}`` block, writes its logs, pid and buffers there, and is stopped when the block ends;
the machine's own nginx and /etc/nginx are never touched.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

MAIN_CONFIG = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
# The test runs as root; the workers stay root so that they can write the prefix's buffers.
user root root;
worker_rlimit_nofile {files};
events {{
    worker_connections {connections};
}}
http {{
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


@contextmanager
def nginx_server(site: Path, ports: Iterable[int], *, connections: int = 1024) -> Iterator[Path]:
    """Run nginx with ``site`` (server and upstream blocks, as in sites-enabled) until the block
    ends, once it accepts connections on every one of ``ports``; yield its prefix directory.

    A configuration nginx refuses raises at once with nginx's own message."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed: run 'make install-test-services'")
    prefix = Path(tempfile.mkdtemp(prefix="borne-nginx-"))
    config = prefix / "nginx.conf"
    # A proxied connection holds two: the client's and the upstream's (bench/rollout.py runs
    # thousands of agents through it).
    config.write_text(
        MAIN_CONFIG.format(
            prefix=prefix, site=site, connections=connections, files=2 * connections + 64
        )
    )
    # -e: the error log before the configuration is read stays here too (not /var/log/nginx).
    command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
    if checked.returncode != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        raise RuntimeError(f"nginx refuses {site}: {checked.stderr.strip()}")
    server = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        for port in ports:
            while not _accepts(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    log = (prefix / "error.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the test nginx did not start: {log}")
                time.sleep(0.05)
        yield prefix
    finally:
        server.terminate()  # SIGTERM: nginx's fast shutdown, open WebSockets included
        server.wait(timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False

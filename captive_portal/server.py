"""``borne portal run``: the portal's web server, over HTTP and (with a certificate) HTTPS at once.

One process, three threads: an HTTP listener, an HTTPS listener, and the main thread that
rewrites the statistics every few seconds, takes the settings the controller sent
(:mod:`captive_portal.managed`) and waits for SIGTERM. The listeners are werkzeug's
threaded servers (a thread per connection), enough for the few hundred devices of one hotspot.
Two things differ from werkzeug's defaults, on purpose:

- the TLS handshake runs in the connection's own thread with a timeout (werkzeug does it in the
  listener's accept, where one silent client would stall every HTTPS client), and every
  connection times out after :data:`CONNECTION_TIMEOUT_S` of silence;
- nothing is logged per request, and no log line carries a client address: a request log of a
  captive portal is a browsing log (every foreign URL a device opens comes through here).

The server makes no outbound connection.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from typing import Any

import click
from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from borne.settings import ImproperlyConfigured
from captive_portal.access import ClientAccess, MemoryClientAccess
from captive_portal.admission import Admission, Clock, system_clock
from captive_portal.anonymity import KernelNeighbours, NeighbourTable
from captive_portal.i18n import BY_CODE
from captive_portal.managed import ManagedSettingsWatch
from captive_portal.settings import Enforcement, PortalSettings, load_portal_settings
from captive_portal.views import EXTENSION, make_context, register_views

log = logging.getLogger(__name__)
REFRESH_EVERY_S = 10.0
MANAGED_EVERY_S = 2.0
STOP_CHECK_S = 0.2
CONNECTION_TIMEOUT_S = 30
# Forms hold two short fields; anything bigger is not our form (413, not a 500 or a slow read).
MAX_CONTENT_LENGTH = 4096


def create_portal_app(
    settings: PortalSettings,
    access: ClientAccess | None = None,
    clock: Clock | None = None,
    *,
    neighbours: NeighbourTable | None = None,
) -> Flask:
    """The portal's Flask app for ``settings``; nothing starts until it is served.

    ``access`` defaults to the enforcement the settings name (nftables, or memory);
    ``clock`` returns an aware "now" (tests move it); ``neighbours`` finds a client's MAC.
    """
    if settings.default_language not in BY_CODE:
        raise ImproperlyConfigured(
            f"setting default_language must be one of {', '.join(BY_CODE)}, "
            f"got {settings.default_language!r}"
        )
    if access is None:
        access = build_access(settings)
    admission = Admission(settings, access, neighbours or KernelNeighbours(), clock or system_clock)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        MAX_FORM_MEMORY_SIZE=1024,
        MAX_FORM_PARTS=8,
        PORTAL_DEFAULT_LANGUAGE=settings.default_language,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep RFC 8908's key order
    app.extensions[EXTENSION] = make_context(settings, admission)
    register_views(app)
    return app


def build_access(settings: PortalSettings) -> ClientAccess:
    if settings.enforcement == Enforcement.MEMORY:
        return MemoryClientAccess()
    from captive_portal.nft import NftClientAccess  # needs nft and root: only when asked

    access: ClientAccess = NftClientAccess(settings)
    return access


class PortalRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without the request log, with a timeout and a per-thread handshake."""

    timeout = CONNECTION_TIMEOUT_S  # socketserver applies it to the connection in setup()

    def setup(self) -> None:
        tls: ssl.SSLContext | None = getattr(self.server, "tls", None)
        if tls is not None:
            self.request.settimeout(self.timeout)
            self.request = tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No request log: it would be a log of residents' browsing."""

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: werkzeug's messages here name the client and its request line."""

    def log_error(self, format: str, *args: Any) -> None:
        log.info("a malformed request was refused")


class PortalServer(ThreadedWSGIServer):
    """A threaded werkzeug server whose TLS, if any, is done by each connection's thread."""

    daemon_threads = True

    def __init__(self, host: str, port: int, app: Flask, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(host, port, app, handler=PortalRequestHandler)
        self.tls = tls
        # werkzeug reads ssl_context to set wsgi.url_scheme; the socket itself stays plain.
        self.ssl_context = tls

    def server_bind(self) -> None:
        # http.server asks the resolver for the address's full name (getfqdn), which on a
        # hotspot whose uplink is down hangs for the resolver's timeouts: the address is enough.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ssl.SSLError | ConnectionError | socket.timeout):
            return  # a client that dropped or spoke no TLS: not worth a line
        log.exception("error while serving a connection")  # no client address on purpose


def tls_context(settings: PortalSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ImproperlyConfigured(
            f"settings tls_cert/tls_key: cannot load {settings.tls_cert} and {settings.tls_key}: "
            f"{exc}"
        ) from exc
    return context


def listen_addresses(settings: PortalSettings) -> list[str]:
    """The gateway's IPv4 address, and its IPv6 one when clients get IPv6 (the table sends
    each family's web traffic to the portal's address of that family)."""
    hosts = [settings.gateway_address]
    if settings.gateway_address6 and not settings.listen_address:
        hosts.append(settings.gateway_address6)
    return hosts


def apply_portal_table(settings: PortalSettings) -> None:
    """Load the portal's nftables table before serving: created if missing, rules replaced,
    authorised clients kept (a restart of the portal disconnects nobody)."""
    from captive_portal.nft import apply_ruleset, portal_ruleset

    apply_ruleset(portal_ruleset(settings, gateway6=settings.gateway_address6))


def serve(app: Flask, settings: PortalSettings, stop: threading.Event) -> None:
    """Serve until ``stop`` is set, refreshing the statistics and the devices' new addresses
    every :data:`REFRESH_EVERY_S` and taking the controller's settings within
    :data:`MANAGED_EVERY_S` of their arrival.

    ``settings`` are the TOML file's; the managed file goes on top of them.
    """
    admission = app.extensions[EXTENSION].admission
    managed = ManagedSettingsWatch(settings, admission.reconfigure)
    managed.check()
    hosts = listen_addresses(settings)
    tls = tls_context(settings)
    servers = []
    for host in hosts:
        servers.append(PortalServer(host, settings.http_port, app))
        if tls is not None:
            servers.append(PortalServer(host, settings.https_port, app, tls))
    threads = [
        threading.Thread(target=server.serve_forever, name=f"portal-{i}", daemon=True)
        for i, server in enumerate(servers)
    ]
    for thread in threads:
        thread.start()
    schemes = "HTTP and HTTPS" if tls is not None else "HTTP"
    ports = ", ".join(str(s.server_port) for s in servers)
    log.warning("portal serving %s on %s port(s) %s", schemes, " and ".join(hosts), ports)
    try:
        next_refresh = time.monotonic() + REFRESH_EVERY_S
        next_managed = time.monotonic() + MANAGED_EVERY_S
        # Short waits: the stop signal is seen at once, whichever thread the signal landed on.
        while not stop.wait(STOP_CHECK_S):
            if time.monotonic() >= next_managed:
                managed.check()  # one stat() when nothing changed
                next_managed = time.monotonic() + MANAGED_EVERY_S
            if time.monotonic() >= next_refresh:
                try:
                    admission.refresh()
                except Exception:  # nft or the disk: taps go on, and the next refresh tries
                    log.exception("the portal's refresh failed")
                next_refresh = time.monotonic() + REFRESH_EVERY_S
    finally:
        for server in servers:
            server.shutdown()
        admission.refresh()


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML file with a [portal] table (then BORNE_PORTAL_* variables apply).",
)
@click.option(
    "--memory",
    is_flag=True,
    help="Keep authorised clients in memory instead of nftables (previews, tests).",
)
def run(config_file: str | None, memory: bool) -> None:
    """Serve the splash page, the OS probes and the RFC 8908 API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    overrides = {"enforcement": Enforcement.MEMORY.value} if memory else None
    try:
        settings = load_portal_settings(
            config_file=config_file, env=os.environ, overrides=overrides
        )
        if settings.enforcement == Enforcement.NFT:
            apply_portal_table(settings)
        app = create_portal_app(settings)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        serve(app, settings, stop)
    except ImproperlyConfigured as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # port taken, address not on this host …
        raise click.ClickException(f"cannot serve the portal: {exc}") from exc
    except RuntimeError as exc:  # nft refused the table (no nftables, not root …)
        raise click.ClickException(f"cannot load the portal's nftables table: {exc}") from exc

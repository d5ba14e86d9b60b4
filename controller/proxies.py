"""Behind a TLS proxy (nginx): believe its X-Forwarded-* headers, and only its.

Without this, every request looks like plain http:// from the proxy's address, so pages print
``http://`` commands and the sign-in limits count every person as the proxy. With it, a request
that comes straight from a client keeps its own address and scheme, whatever headers it sends:
anybody can write ``X-Forwarded-For`` (a sign-in limit per address would mean nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TrustedProxies:
    """WSGI middleware: X-Forwarded-For, -Proto, -Host and -Port of one proxy hop, honoured when
    the direct peer is one of ``networks``."""

    def __init__(self, app: WSGIApp, networks: Iterable[str]) -> None:
        self._app = app
        self._through_proxy = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1)
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._trusted(environ.get("REMOTE_ADDR", "")):
            return self._through_proxy(environ, start_response)
        return self._app(environ, start_response)

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

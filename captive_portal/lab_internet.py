"""The lab's "internet": one web server standing in for public sites and the OS probe hosts.

It gives each operating system's connectivity probe the answer that means "online" (what Google,
Apple, Microsoft and Mozilla serve), so a test can tell a device that reached the internet from
one that got the portal. Every request is appended to a log file: a test can check that nothing
reached the internet before the client connected. Run by ``borne portal lab up`` inside the lab's
internet namespace: ``python -m captive_portal.lab_internet --log FILE [--cert PEM --key PEM]``.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# path -> (status, content type, body): the answers that mean "online" to each OS.
PROBE_ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "/generate_204": (204, "text/plain", b""),  # Android, ChromeOS
    "/hotspot-detect.html": (  # Apple (captive.apple.com)
        200,
        "text/html",
        b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    ),
    "/connecttest.txt": (200, "text/plain", b"Microsoft Connect Test"),  # Windows 10+
    "/ncsi.txt": (200, "text/plain", b"Microsoft NCSI"),  # older Windows
    "/success.txt": (200, "text/plain", b"success\n"),  # Firefox (detectportal.firefox.com)
}
PUBLIC_SITE_MARK = "lab internet: public site"


def public_site_page(host: str) -> bytes:
    return f"<html><body><h1>{PUBLIC_SITE_MARK} {host}</h1></body></html>\n".encode()


class _DualStackServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def _handler(log: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class InternetHandler(BaseHTTPRequestHandler):
        server_version = "lab-internet"

        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0]
            with lock, log.open("a") as fh:
                fh.write(f"{self.command} {host} {self.path}\n")
            path = self.path.split("?")[0]
            status, ctype, body = PROBE_ANSWERS.get(
                path, (200, "text/html", public_site_page(host))
            )
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET
        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # the request log above is the one that matters

    return InternetHandler


def serve(log: Path, http_port: int, https_port: int, cert: Path | None, key: Path | None) -> None:
    handler = _handler(log)
    servers = [_DualStackServer(("::", http_port), handler)]
    if cert is not None and key is not None:
        tls = _DualStackServer(("::", https_port), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        tls.socket = context.wrap_socket(tls.socket, server_side=True)
        servers.append(tls)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--cert", type=Path)
    parser.add_argument("--key", type=Path)
    args = parser.parse_args()
    serve(args.log, args.http_port, args.https_port, args.cert, args.key)


if __name__ == "__main__":
    main()

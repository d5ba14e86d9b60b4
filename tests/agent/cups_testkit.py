"""A private cupsd for the public-PC tests: its own configuration, spool and socket in a temporary
directory (the system's CUPS configuration is untouched), with Debian's default job policy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.polling import wait_for

SYSTEM_CUPSD_CONF = Path("/etc/cups/cupsd.conf")
SYSTEM_SERVER_BIN = Path("/usr/lib/cups")


@dataclass
class PrintServer:
    socket: Path
    spool: Path

    def add_queue(self, name: str, device: str = "file:///dev/null") -> None:
        """A printer writing to ``device``, enabled and accepting jobs."""
        self.admin("lpadmin", "-p", name, "-E", "-v", device)

    def admin(self, tool: str, *args: str) -> None:
        """An administration tool of CUPS (lpadmin, cupsdisable, cupsreject …) on this server."""
        subprocess.run([tool, "-h", str(self.socket), *args], check=True, capture_output=True)

    def lpstat(self, which: str = "all") -> str:
        return subprocess.run(
            ["lpstat", "-h", str(self.socket), "-W", which, "-o"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def spool_files(self, job: str) -> list[Path]:
        number = int(job.rsplit("-", 1)[1])
        return [p for p in self.spool.iterdir() if re.fullmatch(rf"[cd]0*{number}(-\d+)?", p.name)]


def default_policy() -> str:
    """The ``<Policy default>`` block of Debian's cupsd.conf: who may cancel whose jobs."""
    text = SYSTEM_CUPSD_CONF.read_text()
    return text[text.index("<Policy default>") : text.index("</Policy>") + len("</Policy>")]


@contextmanager
def private_cupsd(backends: dict[str, str] | None = None) -> Iterator[PrintServer]:
    """A cupsd of its own, without printers, stopped and removed afterwards.

    ``backends``: more backends, by URI scheme, as the text of their script, beside Debian's.
    """
    # Not under tmp_path (0700): a guest must reach the socket, cupsd's lp user its files.
    root = Path(tempfile.mkdtemp(prefix="borne-cups-"))
    os.chmod(root, 0o755)  # noqa: S103 - see above
    for name in ("spool", "spool/tmp", "cache", "state", "log"):
        (root / name).mkdir()
    sock = root / "cups.sock"
    (root / "cups-files.conf").write_text(
        f"ServerRoot {root}\nRequestRoot {root}/spool\nTempDir {root}/spool/tmp\n"
        f"CacheDir {root}/cache\nStateDir {root}/state\nErrorLog {root}/log/error_log\n"
        f"AccessLog {root}/log/access_log\nPageLog {root}/log/page_log\n"
        f"ServerBin {_server_bin(root, backends or {})}\nFileDevice Yes\nSystemGroup root\n"
    )
    (root / "cupsd.conf").write_text(
        f"Listen {sock}\nLogLevel warn\nWebInterface No\nBrowsing No\n"
        f"<Location />\n  Order allow,deny\n</Location>\n{default_policy()}\n"
    )
    cupsd = subprocess.Popen(
        ["cupsd", "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(sock.is_socket, timeout=10, what="cupsd's socket")
        yield PrintServer(sock, root / "spool")
    finally:
        cupsd.terminate()
        cupsd.wait(15)
        shutil.rmtree(root)


def _server_bin(root: Path, backends: dict[str, str]) -> Path:
    """CUPS' programs (filters, backends …) as Debian installs them, plus ``backends``."""
    if not backends:
        return SYSTEM_SERVER_BIN
    server_bin = root / "server-bin"
    server_bin.mkdir()
    for entry in SYSTEM_SERVER_BIN.iterdir():
        if entry.name != "backend":
            (server_bin / entry.name).symlink_to(entry)
    (server_bin / "backend").mkdir()
    for entry in (SYSTEM_SERVER_BIN / "backend").iterdir():
        (server_bin / "backend" / entry.name).symlink_to(entry)
    for scheme, script in backends.items():
        backend = server_bin / "backend" / scheme
        backend.write_text(script)
        backend.chmod(0o755)  # run as lp, like the network backends
    return server_bin

"""Printed vouchers a mediator hands out in "code" mode, kept hashed in ``<state_dir>``.

Rule: a voucher lets one device online once (one use), on the local day it was printed; unused
vouchers expire at midnight and are forgotten. Only HMAC-SHA256(``code_secret``, code) is stored,
so a copy of the file does not give working codes (8 digits are few: the key, not the hash,
protects them). ``borne portal vouchers --count N`` prints new ones and ``--today`` the code of
the day (``borne portal tickets``, its first name, still works). The web server and the command
may run at once: a lock file serialises them.

The files (``tickets.json``, ``tickets.lock``), their JSON key and the hash's prefix keep the word
the vouchers had first: renaming them would lose the vouchers printed before an upgrade.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import click

from borne.settings import ImproperlyConfigured
from captive_portal.codes import VOUCHER_DIGITS, code_of_the_day, display_code
from captive_portal.hours import OpeningSchedule
from captive_portal.managed import DamagedManagedSettings, with_managed_settings
from captive_portal.settings import load_portal_settings

VOUCHERS_FILE = "tickets.json"
LOCK_FILE = "tickets.lock"
_FILE_KEY = "tickets"
_HASH_PREFIX = "ticket:"
MAX_VOUCHERS_AT_ONCE = 1000


class VoucherBook:
    """Issue and redeem one-day, one-use vouchers; nothing but hashes touches the disk."""

    def __init__(self, state_dir: Path, secret: str) -> None:
        if not secret:
            raise ValueError("vouchers need the setting code_secret")
        self._path = Path(state_dir) / VOUCHERS_FILE
        self._lock_path = Path(state_dir) / LOCK_FILE
        self._key = secret.encode()
        self._thread_lock = threading.Lock()

    def issue(self, count: int, day: date) -> list[str]:
        """``count`` new voucher codes valid on ``day``; only their hashes are kept."""
        if not 1 <= count <= MAX_VOUCHERS_AT_ONCE:
            raise ValueError(f"count must be between 1 and {MAX_VOUCHERS_AT_ONCE}")
        codes: list[str] = []
        with self._locked() as vouchers:
            while len(codes) < count:
                code = f"{secrets.randbelow(10**VOUCHER_DIGITS):0{VOUCHER_DIGITS}d}"
                digest = self._hash(code)
                if digest not in vouchers:
                    vouchers[digest] = day.isoformat()
                    codes.append(code)
            self._keep_only(vouchers, day)
        return codes

    def redeem(self, code: str, day: date) -> bool:
        """Use ``code`` up if it is a voucher of ``day``; True when it let the device in."""
        digest = self._hash(code)
        with self._locked() as vouchers:
            valid = vouchers.get(digest) == day.isoformat()
            if valid:
                del vouchers[digest]
            self._keep_only(vouchers, day)
        return valid

    def unused(self, day: date) -> int:
        with self._locked() as vouchers:
            return sum(1 for issued in vouchers.values() if issued == day.isoformat())

    def _hash(self, code: str) -> str:
        return hmac.new(self._key, f"{_HASH_PREFIX}{code}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _keep_only(vouchers: dict[str, str], day: date) -> None:
        for digest in [d for d, issued in vouchers.items() if issued != day.isoformat()]:
            del vouchers[digest]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        """The vouchers, read and rewritten under a thread lock and an flock (CLI and server)."""
        with self._thread_lock, open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            vouchers = self._read()
            before = dict(vouchers)
            yield vouchers
            if vouchers != before:
                self._write(vouchers)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged file loses today's vouchers, never lets a wrong code in
        vouchers = data.get(_FILE_KEY, {}) if isinstance(data, dict) else {}
        return {
            str(d): str(issued)
            for d, issued in vouchers.items()
            if isinstance(d, str) and isinstance(issued, str)
        }

    def _write(self, vouchers: dict[str, str]) -> None:
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"version": 1, _FILE_KEY: vouchers}, fh)
        tmp.replace(self._path)


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML file.")
@click.option(
    "--count",
    type=click.IntRange(1, MAX_VOUCHERS_AT_ONCE),
    default=None,
    help="Print this many new one-use vouchers, valid today.",
)
@click.option("--today", is_flag=True, help="Print today's code of the day.")
def vouchers(config_file: str | None, count: int | None, today: bool) -> None:
    """Print codes for "code" mode: today's code of the day and/or new one-use vouchers."""
    try:
        # The controller's secret when it manages this hotspot: the same codes as the portal's.
        settings = with_managed_settings(
            load_portal_settings(config_file=config_file, env=os.environ)
        )
    except (ImproperlyConfigured, DamagedManagedSettings) as exc:
        raise click.ClickException(str(exc)) from exc
    if not settings.code_secret:
        raise click.ClickException("set code_secret in [portal] first: codes derive from it")
    if count is None and not today:
        raise click.UsageError("say what to print: --count N (tickets) and/or --today")
    schedule = OpeningSchedule("", settings.timezone, settings.country_code)
    day = schedule.local(datetime.now(UTC)).date()
    if today:
        code = code_of_the_day(settings.code_secret, day)
        click.echo(f"Code of the day {day.isoformat()}: {display_code(code)}")
    if count is not None:
        Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
        book = VoucherBook(settings.state_dir, settings.code_secret)
        click.echo(f"One-use tickets, valid on {day.isoformat()} only:")
        for code in book.issue(count, day):
            click.echo(display_code(code))


# The command's first name, kept for the scripts and sheets that use it; out of --help so that
# nobody mistakes it for a maintenance ticket.
tickets = click.Command(
    "tickets",
    callback=vouchers.callback,
    params=vouchers.params,
    help=vouchers.help,
    hidden=True,
)

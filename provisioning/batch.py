"""Many hosts from a CSV file, bootstrapped a few at a time, with a progress bar and a table.

The file has a header line naming its columns (any order): ``host`` is required, the others —
``port``, ``user``, ``site``, ``kind``, ``identity``, ``trust_host`` — may be left out or empty,
and then take the command line's values. Blank lines and lines starting with ``#`` are skipped.
A bad line is named (its line number and what is wrong) and the others go on; a bad header stops
the batch before anything starts, since no line could then be read with certainty.

Hosts run in a bounded thread pool: each bootstrap mostly waits on SSH and on the host's pip, so
threads are enough, and the bound keeps the admin's uplink and the controller unhurried.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from agent.protocol import DeviceKind
from provisioning.bootstrap import Report
from provisioning.errors import ProvisioningError
from provisioning.ssh import SshTarget

COLUMNS = ("host", "port", "user", "site", "kind", "identity", "trust_host")
MAX_PARALLEL = 64


@dataclass(frozen=True)
class Defaults:
    """The command line's values for the columns a line leaves empty."""

    port: int = 22
    user: str = "root"
    site: str | None = None
    kind: DeviceKind = DeviceKind.PC
    identity: Path | None = None


@dataclass(frozen=True)
class HostLine:
    """One host to bootstrap, as its line asked."""

    line: int
    target: SshTarget
    site: str
    kind: DeviceKind
    trust_host: str | None = None


@dataclass(frozen=True)
class LineError:
    line: int
    text: str  # the host column, when there was one
    message: str


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class HostResult:
    line: int
    host: str
    outcome: Outcome
    detail: str


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as source:
            reader = csv.reader(source)
            for row in reader:
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                yield reader.line_num, [cell.strip() for cell in row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ProvisioningError(f"cannot read {path}: {exc}") from exc


def read_hosts(path: Path, defaults: Defaults) -> tuple[list[HostLine], list[LineError]]:
    """The hosts of a CSV file, and its bad lines, each named."""
    rows = _rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ProvisioningError(
            f"{path} is empty: it needs a header line, such as host,site"
        ) from None
    header = [name.lower() for name in header]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ProvisioningError(
            f"{path}, line 1: unknown column(s) {', '.join(map(repr, unknown))}; the columns "
            f"are {', '.join(COLUMNS)}"
        )
    if "host" not in header or len(set(header)) != len(header):
        raise ProvisioningError(
            f"{path}, line 1: the header must name a host column, and each column once"
        )
    hosts: list[HostLine] = []
    errors: list[LineError] = []
    seen: dict[tuple[str, int], int] = {}
    for number, row in rows:
        values = dict(zip(header, row, strict=False))
        try:
            if len(row) > len(header):
                raise ProvisioningError(f"{len(row)} fields, the header names {len(header)}")
            host = _host_line(number, values, defaults)
        except ProvisioningError as exc:
            errors.append(LineError(number, values.get("host", ""), str(exc)))
            continue
        key = (host.target.host, host.target.port)
        if key in seen:
            errors.append(LineError(number, host.target.host, f"the same host as line {seen[key]}"))
            continue
        seen[key] = number
        hosts.append(host)
    return hosts, errors


def _host_line(number: int, values: dict[str, str], defaults: Defaults) -> HostLine:
    host = values.get("host", "")
    if not host or any(c.isspace() for c in host) or host.startswith("-"):
        raise ProvisioningError(f"host must be a host name or address, got {host!r}")
    port = defaults.port
    if values.get("port"):
        if not values["port"].isdigit() or not 1 <= int(values["port"]) <= 65535:
            raise ProvisioningError(
                f"port must be a number from 1 to 65535, got {values['port']!r}"
            )
        port = int(values["port"])
    kind = defaults.kind
    if values.get("kind"):
        try:
            kind = DeviceKind(values["kind"])
        except ValueError:
            known = ", ".join(k.value for k in DeviceKind)
            raise ProvisioningError(
                f"kind must be one of {known}, got {values['kind']!r}"
            ) from None
    site = values.get("site") or defaults.site
    if not site:
        raise ProvisioningError("no site: fill the site column, or give --site")
    identity = (
        Path(values["identity"]).expanduser() if values.get("identity") else defaults.identity
    )
    if identity is not None and not identity.is_file():
        raise ProvisioningError(f"identity {identity} is not a file")
    trust = values.get("trust_host") or None
    if trust is not None and not trust.startswith("SHA256:"):
        raise ProvisioningError(f"trust_host must be a SHA256:… fingerprint, got {trust!r}")
    user = values.get("user") or defaults.user
    return HostLine(number, SshTarget(host, port, user, identity), site, kind, trust)


def run_batch(
    hosts: list[HostLine],
    errors: list[LineError],
    bootstrap_one: Callable[[HostLine], Report],
    *,
    parallel: int,
    console: Console,
) -> list[HostResult]:
    """Bootstrap ``hosts``, ``parallel`` at a time, under a progress bar; the results of every
    line, bad ones included, in the file's order."""
    if not 1 <= parallel <= MAX_PARALLEL:
        raise ProvisioningError(f"--parallel must be from 1 to {MAX_PARALLEL}, got {parallel}")
    results = [
        HostResult(error.line, error.text or f"line {error.line}", Outcome.FAILED,
                   f"line {error.line}: {error.message}")
        for error in errors
    ]  # fmt: skip
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=console, transient=False) as progress,
        ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="bootstrap") as pool,
    ):
        task = progress.add_task("bootstrapping", total=len(hosts))
        futures = {pool.submit(bootstrap_one, host): host for host in hosts}
        for future in as_completed(futures):
            host = futures[future]
            try:
                report = future.result()
            except ProvisioningError as exc:
                result = HostResult(host.line, str(host.target), Outcome.FAILED, str(exc))
            except Exception as exc:  # one host's bug must not stop the batch
                result = HostResult(
                    host.line, str(host.target), Outcome.FAILED, f"{type(exc).__name__}: {exc}"
                )
            else:
                outcome = Outcome.UNCHANGED if report.unchanged else Outcome.SUCCEEDED
                result = HostResult(host.line, str(host.target), outcome, report.summary())
            results.append(result)
            progress.console.print(Text(f"{result.host}: {result.outcome}"))
            progress.advance(task)
    return sorted(results, key=lambda r: r.line)


def results_table(results: list[HostResult]) -> Table:
    """The final table: each host of the file, what happened and why."""
    ok = sum(r.outcome is not Outcome.FAILED for r in results)
    table = Table(title=f"{ok} of {len(results)} hosts in service", show_lines=True)
    table.add_column("line", justify="right")
    table.add_column("host")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    styles = {Outcome.SUCCEEDED: "green", Outcome.UNCHANGED: "cyan", Outcome.FAILED: "bold red"}
    for result in results:
        table.add_row(
            str(result.line),
            Text(result.host),
            Text(result.outcome, style=styles[result.outcome]),
            Text(result.detail),  # no markup: details quote hosts as [host]:port
        )
    return table

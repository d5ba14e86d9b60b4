"""The guest's print jobs: cancelled and purged from CUPS, so the printed document is gone too.

CUPS keeps a copy of every document it prints in its spool (``/var/spool/cups/dNNNNN-001``, the
job's attributes with its title in ``cNNNNN``) for a day after printing by default
(``PreserveJobFiles``); a job still pending or held keeps it until someone cancels it. On a
public PC that is a resident's bank statement or CAF letter, readable by whoever administers
the printer, or reprinted by the next resident with ``lp -i ID -H restart``.

The CLI tools cannot do this for another user: ``cancel -x ID`` (Cancel-Job) refuses a completed
job, and ``cancel -x -u NAME`` sends Cancel-My-Jobs, which cupsd applies to the *authenticated*
user (root), not to NAME. So this module sends the IPP operation itself, over cupsd's local
socket, authenticated as root by the socket's peer credentials (``PeerCred``)::

    Purge-Jobs  printer-uri=ipp://localhost/printers/  my-jobs=true
                requesting-user-name=<guest>           purge-jobs=true

which cupsd (``cupsdCancelJobs``) applies to every job of that user on every queue, whatever its
state, and deletes their files. ``lpstat -W all -o`` then proves none of the guest's jobs is left.

No socket at all means no print server on this PC: nothing can be queued, nothing to do. A socket
that is there but does not answer (cupsd stuck, restarting, or a stale socket file) is not the
same: the guest's jobs may still be queued behind it, so it is a leftover and the login locks
until a reset finds cupsd answering again.
"""

from __future__ import annotations

import http.client
import logging
import os
import pwd
from pathlib import Path

from agent.actions import run_quiet
from agent.pc import ipp
from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.ipp import CUPS_SOCKET
from agent.pc.report import Leftover, WipeReport

log = logging.getLogger(__name__)

IPP_TIMEOUT_S = 15
LPSTAT_TIMEOUT_S = 15


SILENT = "the print server does not answer: the guest's jobs may still be queued"


class PrintServerSilent(Exception):
    """The print server's socket is there, but the server does not answer."""


def cancel_print_jobs(
    guest: GuestAccount,
    report: WipeReport,
    *,
    server: Path = CUPS_SOCKET,
    timeout_s: float = IPP_TIMEOUT_S,
) -> None:
    """Cancel every CUPS job of the guest, pending, held or completed, and purge its files."""
    _check(guest)
    if not os.path.lexists(server):
        report.did("no print server")
        return
    try:
        jobs = _guest_jobs(guest, server, timeout_s)
        _purge_jobs_of(guest.name, server, timeout_s)
    except PrintServerSilent as exc:
        log.warning("the print server at %s does not answer: %s", server, exc)
        report.left("print", str(server), SILENT)
        return
    if jobs:
        report.did(f"cancelled {len(jobs)} print jobs")
    for leftover in print_jobs_left(guest, server=server, timeout_s=timeout_s):
        report.left(leftover.area, leftover.path, leftover.reason)


def print_jobs_left(
    guest: GuestAccount, *, server: Path = CUPS_SOCKET, timeout_s: float = LPSTAT_TIMEOUT_S
) -> list[Leftover]:
    """The guest's jobs CUPS still knows, whatever their state (their files are in its spool).

    A print server that does not answer is one leftover: what it holds is unknown.
    """
    _check(guest)
    if not os.path.lexists(server):
        return []
    try:
        jobs = _guest_jobs(guest, server, timeout_s)
    except PrintServerSilent as exc:
        log.warning("the print server at %s does not answer: %s", server, exc)
        return [Leftover("print", str(server), SILENT)]
    return [Leftover("print", job, "print job still in the CUPS spool") for job in jobs]


def _guest_jobs(guest: GuestAccount, server: Path, timeout_s: float) -> list[str]:
    """``lpstat -h SOCKET -W all -o``: every job, completed ones included, with its owner."""
    if not server.is_socket():
        raise PrintServerSilent(f"{server} is not a socket")
    done = run_quiet(["lpstat", "-h", str(server), "-W", "all", "-o"], timeout_s=timeout_s)
    if done is None:
        raise PrintServerSilent(f"lpstat is missing or did not answer within {timeout_s} s")
    if done.returncode != 0:
        raise PrintServerSilent(done.stderr.strip())
    # "borne-test-12   bgtest-1a2b3c   1024   Sun 22 Nov 2026 10:28:28": job, owner, size, date.
    jobs = []
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1] == guest.name:
            jobs.append(fields[0])
    return jobs


def _purge_jobs_of(user: str, server: Path, timeout_s: float) -> None:
    """Send the Purge-Jobs request above; a refusal shows up in :func:`print_jobs_left`."""
    body = ipp.operation(
        ipp.OP_PURGE_JOBS,
        [
            ipp.Attribute(ipp.TAG_URI, "printer-uri", [b"ipp://localhost/printers/"]),
            ipp.Attribute(ipp.TAG_NAME, "requesting-user-name", [user.encode()]),
            ipp.Attribute(ipp.TAG_BOOLEAN, "my-jobs", [b"\x01"]),
            ipp.Attribute(ipp.TAG_BOOLEAN, "purge-jobs", [b"\x01"]),
        ],
    )
    connection = ipp.LocalCups(server, timeout_s)
    try:
        connection.request(
            "POST",
            "/",
            body,
            {
                "Content-Type": "application/ipp",
                # cupsd checks this name against the socket's peer uid (SO_PEERCRED).
                "Authorization": f"PeerCred {pwd.getpwuid(os.getuid()).pw_name}",
            },
        )
        connection.getresponse().read()
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
        raise PrintServerSilent(str(exc)) from exc
    finally:
        connection.close()


def _check(guest: GuestAccount) -> None:
    # An empty or system name would make Purge-Jobs reach other users' jobs.
    if guest.uid < FIRST_REGULAR_UID or not guest.name:
        raise ValueError(f"refusing to purge the print jobs of {guest.name!r}: not a guest")

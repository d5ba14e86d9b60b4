"""The guest's lines in CUPS' page log: who printed what, by document name, removed at each reset.

cupsd writes a line per printed page to ``/var/log/cups/page_log`` — with Debian's format
(``PageLogFormat``) ``printer user job-id [date] page copies billing host job-name media sides``:
the job name is the document's title ("releve-CAF-Mme-X.pdf"). cupsd rotates it itself to
``page_log.O``; logrotate to ``page_log.1``, ``page_log.2.gz`` …. Every line that names the guest
(a whitespace-separated field equal to the account's name, wherever an administrator's format
puts the user) is removed from all of them; other users' lines stay for the library's counts.

The live ``page_log`` is rewritten *in place*: cupsd keeps it open in append mode for its next
line, so a file put in its place by ``rename`` would leave cupsd writing into the deleted one
until its next restart. The rotated files nobody holds open, so they are replaced atomically
(a copy beside them, then ``rename``), owner and mode kept. An interrupted in-place rewrite can
only leave guest lines behind, never lose the check: :func:`page_log_left` reads them again.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import tempfile
import zlib
from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.report import Leftover, WipeReport

log = logging.getLogger(__name__)

PAGE_LOG = Path("/var/log/cups/page_log")
AREA = "print-log"
_ROTATED = re.compile(r"\.(O|\d+)(\.gz)?")


def remove_guest_page_log(
    guest: GuestAccount, report: WipeReport, page_log: Path = PAGE_LOG
) -> None:
    """Remove the guest's lines from the page log and its rotated copies."""
    _check(guest)
    removed = 0
    for path in page_logs(page_log):
        try:
            removed += _rewrite_without(path, guest.name, in_place=path == page_log)
        except OSError as exc:  # reported by the check below, once per file
            log.warning("cannot rewrite %s: %s", path, exc)
    if removed:
        report.did(f"removed {removed} line(s) of the guest from the print log")
    for leftover in page_log_left(guest, page_log):
        report.left(leftover.area, leftover.path, leftover.reason)


def page_log_left(guest: GuestAccount, page_log: Path = PAGE_LOG) -> list[Leftover]:
    """The page logs that still have a line naming the guest."""
    _check(guest)
    left = []
    for path in page_logs(page_log):
        try:
            lines = _read_lines(path)
        except OSError as exc:
            left.append(Leftover(AREA, str(path), f"cannot be read: {exc.strerror or exc}"))
            continue
        if any(_names(line, guest.name) for line in lines):
            left.append(Leftover(AREA, str(path), "the print log still names the guest"))
    return left


def page_logs(page_log: Path) -> list[Path]:
    """The live page log and its rotated copies (regular files only: a link is not followed)."""
    try:
        with os.scandir(page_log.parent) as entries:
            names = [
                entry.name
                for entry in entries
                if entry.is_file(follow_symlinks=False)
                and (
                    entry.name == page_log.name
                    or (
                        entry.name.startswith(page_log.name)
                        and _ROTATED.fullmatch(entry.name[len(page_log.name) :])
                    )
                )
            ]
    except FileNotFoundError:
        return []
    return [page_log.parent / name for name in sorted(names)]


def _rewrite_without(path: Path, user: str, *, in_place: bool) -> int:
    lines = _read_lines(path)
    kept = [line for line in lines if not _names(line, user)]
    if len(kept) == len(lines):
        return 0
    content = b"".join(kept)
    if in_place:
        _rewrite_in_place(path, content)
    else:
        _replace(path, gzip.compress(content) if path.suffix == ".gz" else content)
    return len(lines) - len(kept)


def _rewrite_in_place(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.pwrite(fd, content, 0)
        os.ftruncate(fd, len(content))
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, content: bytes) -> None:
    st = os.lstat(path)
    fd, temporary = tempfile.mkstemp(prefix=".borne-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as copy:
            copy.write(content)
            copy.flush()
            os.fchown(copy.fileno(), st.st_uid, st.st_gid)
            os.fchmod(copy.fileno(), st.st_mode & 0o7777)
            os.fsync(copy.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _read_lines(path: Path) -> list[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as raw:
        data = raw.read()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (EOFError, zlib.error) as exc:  # truncated or damaged: checked, never skipped
            raise OSError(f"damaged gzip file: {exc}") from exc
    return data.splitlines(keepends=True)


def _names(line: bytes, user: str) -> bool:
    return user.encode() in line.split()


def _check(guest: GuestAccount) -> None:
    # An empty name would match nothing; a name like "-" would match every line's empty fields.
    if not guest.name or guest.name == "-":
        raise ValueError(f"refusing to filter the print log for {guest.name!r}: not a guest")

"""The audit log as CSV, written row by row so that a long export streams."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from controller.audit import AuditLog
from controller.spreadsheet import safe_cell

COLUMNS = ("at", "actor", "action", "target_type", "target_id", "summary", "detail")
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): device names
# come from agents, so they are quoted with a leading apostrophe, as OWASP advises.


def csv_lines(entries: Iterable[AuditLog]) -> Iterator[str]:
    """The header, then one CSV line per entry (RFC 4180: CRLF, quotes doubled)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(COLUMNS)
    for entry in entries:
        yield line(
            [
                entry.at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                safe_cell(entry.actor),
                safe_cell(entry.action),
                safe_cell(entry.target_type),
                safe_cell(entry.target_id),
                safe_cell(entry.summary),
                json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True),
            ]
        )

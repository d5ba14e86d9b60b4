"""The public PC's printers as CUPS sees them, for each heartbeat: jammed, out of toner, stopped.

A printer in a public place fails where nobody from IT looks; the resident only sees that
nothing comes out. The controller raises an alert from what this module reports: each queue's
``printer-state`` (idle, printing, stopped), its ``printer-state-reasons`` ("media-jam-error",
"toner-empty-warning", "offline-report" …), its ``printer-state-message`` and whether it accepts
jobs. One IPP request, CUPS-Get-Printers, over cupsd's local socket (:mod:`agent.pc.ipp`), which
anyone may send: no ``lpstat`` to start at each heartbeat, and nothing to parse from a
translated text.

A heartbeat must stay cheap and on time, so a PC without a print server (no socket) reports no
printer at once, and a print server that does not answer within :data:`TIMEOUT_S` is reported
the same way, with one warning in the log until it answers again.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from agent.pc import ipp
from agent.pc.ipp import CUPS_SOCKET, IppError
from agent.protocol import MAX_PRINTERS, Printer, PrinterState

log = logging.getLogger(__name__)

# cupsd answers in milliseconds; past this, it is stuck, and the heartbeat goes without it.
TIMEOUT_S = 1.0
MAX_REASONS = 16
REQUESTED = (
    "printer-name",
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-is-accepting-jobs",
)
IPP_STATES = {3: PrinterState.IDLE, 4: PrinterState.PRINTING, 5: PrinterState.STOPPED}
_NAME, _TEXT = 64, 200  # protocol.ShortText and Text


class CupsPrinters:
    """Reads the printers of the cupsd listening on ``server`` (callable: one reading)."""

    def __init__(self, server: Path | None = None, *, timeout_s: float = TIMEOUT_S) -> None:
        """``server``: cupsd's socket, :data:`agent.pc.ipp.CUPS_SOCKET` unless given."""
        self.server = Path(server) if server is not None else ipp.CUPS_SOCKET
        self.timeout_s = timeout_s
        self._failing = False

    def __call__(self) -> list[Printer]:
        """The printers now; none when there is no print server or it does not answer."""
        if not os.path.lexists(self.server):
            return []
        try:
            printers = read_printers(self.server, timeout_s=self.timeout_s)
        except IppError as exc:
            if not self._failing:
                log.warning("the print server at %s does not answer: %s", self.server, exc)
            self._failing = True
            return []
        if self._failing:
            log.info("the print server at %s answers again", self.server)
        self._failing = False
        return printers


def read_printers(server: Path = CUPS_SOCKET, *, timeout_s: float = TIMEOUT_S) -> list[Printer]:
    """CUPS-Get-Printers: every queue of the print server, by name; raises :class:`IppError`."""
    request = ipp.operation(
        ipp.OP_CUPS_GET_PRINTERS,
        [
            ipp.Attribute(ipp.TAG_KEYWORD, "requested-attributes", [n.encode() for n in REQUESTED]),
            ipp.Attribute(ipp.TAG_INTEGER, "limit", [struct.pack(">i", MAX_PRINTERS)]),
        ],
    )
    response = ipp.send(request, server=server, timeout_s=timeout_s)
    if response.status == ipp.STATUS_NOT_FOUND:  # cupsd's answer when it has no printer
        return []
    if not response.ok:
        raise IppError(f"CUPS-Get-Printers refused: IPP status 0x{response.status:04x}")
    printers = [p for p in map(_printer, response.printer_groups()) if p is not None]
    return sorted(printers, key=lambda p: p.name)[:MAX_PRINTERS]


def _printer(attributes: dict[str, list[tuple[int, bytes]]]) -> Printer | None:
    name = _text(attributes, "printer-name")
    state = _enum(attributes, "printer-state")
    if not name or state not in IPP_STATES:
        return None  # not a printer IPP knows how to describe: nothing to alert on
    reasons = [_decode(value) for _, value in attributes.get("printer-state-reasons", [])]
    accepting = attributes.get("printer-is-accepting-jobs", [(ipp.TAG_BOOLEAN, b"\x01")])
    return Printer(
        name=name[:_NAME],
        state=IPP_STATES[state],
        reasons=[r[:_NAME] for r in reasons if r and r != "none"][:MAX_REASONS],
        message=_text(attributes, "printer-state-message")[:_TEXT],
        accepting=accepting[0][1] != b"\x00",
    )


def _text(attributes: dict[str, list[tuple[int, bytes]]], name: str) -> str:
    values = attributes.get(name)
    return _decode(values[0][1]) if values else ""


def _enum(attributes: dict[str, list[tuple[int, bytes]]], name: str) -> int | None:
    values = attributes.get(name)
    if not values or len(values[0][1]) != 4:
        return None
    return int(struct.unpack(">i", values[0][1])[0])


def _decode(value: bytes) -> str:
    return value.decode("utf-8", errors="replace").strip()

"""The receipt a resident takes away: the locker's number and its code, on a receipt printer.

Where one is attached (``kiosk_receipt_printer``, a device file such as ``/dev/usb/lp0``), the
touch page prints it once the code is made (:func:`agent.kiosk.web.create_kiosk_app`'s
``print_receipt``). Plain ASCII text ends in blank lines to tear at: every ESC/POS printer prints
it as it is, and so does a plain line printer, without a driver or CUPS.

A printer must never keep a resident from their code: out of paper, unplugged or stuck, the
code is on the screen anyway. So nothing here raises, the device is opened without creating it
(an unplugged printer's missing ``/dev/usb/lp0`` must not become a file) and written without
blocking (``O_NONBLOCK`` and a deadline: a printer that stopped taking data costs the page
:data:`WRITE_TIMEOUT_S` at most), and the answer says whether it printed, for the page to say so.

The receipt holds no more than the screen shows: a locker's number, its code and the time.
"""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 3.0
TEAR_OFF_LINES = 5


def receipt_text(number: int, code: str, at: datetime) -> str:
    """The receipt: in French and English, the site's and the visitors' most shared languages,
    and in digits, which every resident reads."""
    shown = f"{code[:3]} {code[3:]}" if len(code) == 6 else code
    return (
        "\n"
        "  RECHARGE / CHARGING\n"
        "\n"
        f"  Casier / Locker   {number}\n"
        f"  Code              {shown}\n"
        "\n"
        f"  {at:%d/%m/%Y %H:%M}\n" + "\n" * TEAR_OFF_LINES
    )


class DeviceReceiptPrinter:
    """Prints receipts by writing them to the device file ``path``; called as the page's
    ``print_receipt(number, code) -> bool``."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], datetime],
        timeout_s: float = WRITE_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._clock = clock  # the site's local time, printed on the receipt

    def __call__(self, number: int, code: str) -> bool:
        """Print the receipt of locker ``number``; whether all of it reached the printer."""
        data = receipt_text(number, code, self._clock()).encode("ascii", "replace")
        try:
            self._write(data)
        except OSError as exc:
            log.warning("the receipt printer %s did not print: %s", self.path, exc)
            return False
        return True

    def _write(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            deadline = time.monotonic() + self.timeout_s
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            left = memoryview(data)
            while left:
                try:
                    left = left[os.write(fd, left) :]
                    continue
                except BlockingIOError:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"the printer took {len(data) - len(left)} of {len(data)} bytes in "
                        f"{self.timeout_s:g} s (out of paper, or stuck?)"
                    )
                poller.poll(remaining * 1000)
        finally:
            os.close(fd)

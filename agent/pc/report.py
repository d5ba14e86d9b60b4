"""What a reset did and what it could not do: the wipe report sent to the controller."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Leftover:
    """Something of the guest's that is still there after the wipe.

    ``path`` is printable whatever the name's bytes (see :func:`printable_path`).
    """

    area: str  # "home", "tmp", "processes", "cron", "at", "print", "media", "network" …
    path: str
    reason: str


@dataclass
class WipeReport:
    """Filled in by each area's cleaner during one reset."""

    started_at: float = field(default_factory=time.time)
    # Time until the PC was ready for the next resident (new home in place, no guest process).
    ready_ms: int = 0
    # Time until the previous resident's data was gone (the background deletion included).
    wipe_ms: int = 0
    removed_files: int = 0  # files, links and directories removed
    removed_bytes: int = 0
    # Plain-language lines for staff: "ended 12 processes", "cancelled 2 print jobs" …
    actions: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.leftovers

    def removed(self, files: int = 1, size: int = 0) -> None:
        self.removed_files += files
        self.removed_bytes += size

    def did(self, action: str) -> None:
        self.actions.append(action)

    def left(self, area: str, path: str | bytes, reason: str) -> None:
        self.leftovers.append(Leftover(area, printable_path(path), reason))


def printable_path(path: str | bytes) -> str:
    """A path a person can read and a log line cannot be forged with.

    Accented names stay as they are; control characters (a newline in a name) and bytes that are
    not UTF-8 are escaped (``\\n``, ``\\xff``).
    """
    raw = path if isinstance(path, bytes) else path.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

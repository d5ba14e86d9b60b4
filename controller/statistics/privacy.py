"""The one rule of small counts: in any breakdown finer than a site and a day (hours of the
week, one device of a site), a count under :data:`SMALL` is shown as "< 5", never as itself.

Hiding one cell is not enough when the breakdown's total is published (on the same page, or as
a coarser figure: a site's sessions over the period): the total less the shown cells gives the
hidden one back. So when a breakdown hides exactly one cell, the smallest cell still shown is
hidden too (secondary suppression): an attacker then knows only the sum of two cells, one of
which is at least 5. Every figure derived from a hidden count (an occupancy, seconds in use) is
hidden with it, since one resident's time would tell as much as the count.

Cells that cannot hold anything (hours when the site is closed) are left out of a breakdown by
its caller: they are public knowledge and would otherwise give away the hidden cells' sum.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

SMALL = 5
HIDDEN = "< 5"


def protect(counts: Mapping[K, int]) -> dict[K, int | None]:
    """``counts`` with the cells to hide as None: those under :data:`SMALL`, and when that is a
    single cell, the smallest other one too (the first such in ``counts``' order on a tie)."""
    shown: dict[K, int | None] = {
        key: (value if value >= SMALL else None) for key, value in counts.items()
    }
    hidden = [key for key, value in shown.items() if value is None]
    if len(hidden) == 1:
        rest = [(value, index, key) for index, (key, value) in enumerate(shown.items())]
        candidates = [(v, i, k) for v, i, k in rest if v is not None]
        if candidates:
            _value, _index, partner = min(candidates, key=lambda c: (c[0], c[1]))
            shown[partner] = None
    return shown


def shown(value: int | None) -> str:
    """A protected count as a page or a CSV file shows it."""
    return HIDDEN if value is None else str(value)

"""CSV files people open in a spreadsheet: cells that cannot run as formulas."""

from __future__ import annotations

# A cell starting with one of these is a formula to Excel and LibreOffice ("CSV injection"):
# a device name "=HYPERLINK(…)" must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` as text a spreadsheet shows, never evaluates."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value

"""Codes a resident types in "code" mode: the code of the day, and the shape of any code.

The code of the day is 6 digits from an HMAC of the local date with ``code_secret``: the desk
reads it from ``borne portal vouchers --today`` (or a printed sheet) and anyone can say it aloud
in any language; digits have no look-alike letters (0/O, 1/l/I). Printed vouchers are 8 digits
(:mod:`captive_portal.vouchers`), so the length alone tells the two apart.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date

DAY_CODE_DIGITS = 6
VOUCHER_DIGITS = 8
MAX_CODE_INPUT = 32  # characters a resident may type, spaces included; longer is refused
_SEPARATORS = frozenset(" -.\u00a0\u202f")


def code_of_the_day(secret: str, day: date) -> str:
    """The 6-digit code valid all of ``day`` (local date of the hotspot)."""
    digest = hmac.new(
        secret.encode(), f"borne-portal-day-code:{day.isoformat()}".encode(), hashlib.sha256
    ).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**DAY_CODE_DIGITS:0{DAY_CODE_DIGITS}d}"


def normalise_code(typed: str) -> str | None:
    """The digits of what a resident typed, or None if it cannot be a code.

    Spaces and dashes are dropped (codes are printed ``123 456``) and any script's digits are
    accepted: an Arabic keyboard types ``١٢٣٤٥٦``.
    """
    if len(typed) > MAX_CODE_INPUT:
        return None
    digits = []
    for char in typed.strip():
        if char in _SEPARATORS:
            continue
        value = unicodedata.digit(char, None)
        if value is None:
            return None
        digits.append(str(value))
    code = "".join(digits)
    return code if len(code) in (DAY_CODE_DIGITS, VOUCHER_DIGITS) else None


def display_code(code: str) -> str:
    """``123 456`` / ``1234 5678``: groups are easier to read aloud and to copy."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def is_code_of_the_day(code: str, secret: str, day: date) -> bool:
    return len(code) == DAY_CODE_DIGITS and hmac.compare_digest(code, code_of_the_day(secret, day))

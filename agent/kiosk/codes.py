"""The residents' 6-digit codes and the staff's PINs: made, kept and checked without being stored.

Threat model: someone who copies the kiosk's disk (a stolen kiosk, a technician's backup, a
repair shop) must not read the codes of the phones inside, and someone at the touch screen must
not learn a code or a PIN from how long a wrong one takes.

* A code is drawn with :mod:`secrets` (the kernel's CSPRNG), shown once, and stored only as a
  salted scrypt hash. With one million possible codes no hash makes an offline search
  impossible; scrypt makes each guess cost ~16 MiB and some 40 ms here, so trying them all
  takes a core about half a day — longer than the site's longest charge (``kiosk_max_charge_min``),
  after which the code no longer opens anything. The memory is taken for the moment of a
  check and given back (it is not part of the agent's resident footprint).
* Online guessing is the bank's to stop (a pause after five wrong codes, see
  :mod:`agent.kiosk.bank`), not this module's.
* Comparisons are :func:`hmac.compare_digest`; an unknown staff username is checked against a
  dummy hash of the same cost, so a wrong name and a wrong PIN take the same time.
* Staff PINs arrive from the controller already hashed
  (``pbkdf2_sha256$iterations$salt_hex$hash_hex``, the format of ``kiosk_staff_pins``): the
  kiosk never sees a PIN it is not typed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

CODE_DIGITS = 6
_CODE = re.compile(r"[0-9]{6}")  # str.isdigit() would take "١٢٣٤٥٦" and "²"

# scrypt's cost: n=2**14, r=8 is 16 MiB per check (128 * r * n bytes), p=1.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_MAXMEM = 64 * 2**20
SALT_BYTES = 16
HASH_BYTES = 32
CODE_SCHEME = "scrypt"

PIN_SCHEME = "pbkdf2_sha256"
# A hash from the controller with more rounds than this is refused rather than computed: a
# damaged setting must not hold the kiosk for minutes at each staff opening.
MAX_PIN_ITERATIONS = 5_000_000
MIN_PIN_ITERATIONS = 10_000
_HEX = re.compile(r"[0-9a-f]+")


class BadHash(ValueError):
    """A stored hash is not in the expected format (the message says what is wrong)."""


def new_code() -> str:
    """A fresh code: six digits, each of the 10**6 codes as likely."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def is_code(text: str) -> bool:
    """Whether ``text`` has the shape of a code (six ASCII digits)."""
    return _CODE.fullmatch(text) is not None


def hash_code(code: str) -> str:
    """``scrypt$n$r$p$salt_hex$hash_hex`` of ``code``, with a fresh salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(code, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{CODE_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_code(code: str, stored: str) -> bool:
    """Whether ``code`` is the one hashed in ``stored``; :class:`BadHash` if ``stored`` is not
    a code's hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != CODE_SCHEME:
        raise BadHash(f"not a {CODE_SCHEME} hash of a code")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError as exc:
        raise BadHash(f"damaged {CODE_SCHEME} hash of a code: {exc}") from exc
    if (n, r, p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P) or not salt or len(expected) != HASH_BYTES:
        raise BadHash(f"{CODE_SCHEME} hash with parameters this kiosk does not make")
    return hmac.compare_digest(_scrypt(code, salt, n, r, p), expected)


def _scrypt(code: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        code.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=HASH_BYTES
    )


# -- staff PINs ---------------------------------------------------------------------------------


def parse_pin_hash(stored: str) -> tuple[int, bytes, bytes]:
    """``(iterations, salt, hash)`` of a ``pbkdf2_sha256$iterations$salt_hex$hash_hex``;
    :class:`BadHash` naming what is wrong."""
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != PIN_SCHEME:
        raise BadHash(f"expected {PIN_SCHEME}$iterations$salt_hex$hash_hex")
    iterations, salt_hex, hash_hex = parts[1:]
    if not iterations.isascii() or not iterations.isdigit():
        raise BadHash(f"the iterations of a {PIN_SCHEME} hash must be a number")
    rounds = int(iterations)
    if not MIN_PIN_ITERATIONS <= rounds <= MAX_PIN_ITERATIONS:
        raise BadHash(
            f"a {PIN_SCHEME} hash must use {MIN_PIN_ITERATIONS} to {MAX_PIN_ITERATIONS} "
            f"iterations, not {rounds}"
        )
    for name, value in (("salt", salt_hex), ("hash", hash_hex)):
        if len(value) < 16 or len(value) % 2 or not _HEX.fullmatch(value):
            raise BadHash(f"the {name} of a {PIN_SCHEME} hash must be lowercase hex (8 bytes+)")
    return rounds, bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)


def hash_staff_pin(pin: str, *, iterations: int = 600_000, salt: bytes | None = None) -> str:
    """A PIN's ``pbkdf2_sha256$…`` (what the controller sends; here for tests and tools)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return f"{PIN_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def check_staff_pin(username: str, pin: str, pins: Mapping[str, str]) -> bool:
    """Whether ``pin`` is the PIN of ``username`` among ``pins`` (username -> hash).

    An unknown username, or a damaged hash, is False, never an exception (the staff member
    asks for a new PIN; the kiosk keeps opening for the others), after as much work as a known
    one: how long the answer takes does not tell which names exist.
    """
    parsed = _parsed(pins.get(username))
    if parsed is None:
        rounds = max((p[0] for p in map(_parsed, pins.values()) if p), default=MIN_PIN_ITERATIONS)
        hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), b"\0" * SALT_BYTES, rounds)
        return False
    iterations, salt, expected = parsed
    digest = hashlib.pbkdf2_hmac(
        "sha256", pin.encode("utf-8"), salt, iterations, dklen=len(expected)
    )
    return hmac.compare_digest(digest, expected)


def _parsed(stored: str | None) -> tuple[int, bytes, bytes] | None:
    if stored is None:
        return None
    try:
        return parse_pin_hash(stored)
    except BadHash:
        return None

"""Codes and staff PINs (agent/kiosk/codes.py): made from the kernel's randomness, kept as salted
hashes, checked without telling what is wrong."""

from __future__ import annotations

import pytest

from agent.kiosk.codes import (
    MAX_PIN_ITERATIONS,
    MIN_PIN_ITERATIONS,
    BadHash,
    check_code,
    check_staff_pin,
    hash_code,
    hash_staff_pin,
    is_code,
    new_code,
    parse_pin_hash,
)


def test_codes_are_six_ascii_digits_and_vary() -> None:
    codes = {new_code() for _ in range(200)}

    assert all(is_code(code) for code in codes)
    assert len(codes) > 190  # a repeat among 200 of a million is rare; 10 repeats never


@pytest.mark.parametrize("text", ["12345", "1234567", "12 345", "١٢٣٤٥٦", "12345²", "abcdef", ""])
def test_anything_else_is_not_a_code(text: str) -> None:
    assert not is_code(text)


def test_a_code_is_kept_as_a_salted_hash_that_only_it_matches() -> None:
    first, second = hash_code("048213"), hash_code("048213")

    assert "048213" not in first
    assert first != second, "each hash has its own salt"
    assert check_code("048213", first) and check_code("048213", second)
    assert not check_code("048214", first)


@pytest.mark.parametrize(
    "stored",
    [
        "048213",
        "scrypt$16384$8$1$zz$00",
        "scrypt$1024$8$1$00112233445566778899aabbccddeeff$" + "00" * 32,
        "pbkdf2_sha256$600000$0011223344556677$0011223344556677",
    ],
)
def test_a_damaged_code_hash_is_an_error_not_a_match(stored: str) -> None:
    with pytest.raises(BadHash):
        check_code("048213", stored)


def test_a_staff_pin_matches_only_its_own_hash() -> None:
    pins = {
        "alice": hash_staff_pin("4821", iterations=MIN_PIN_ITERATIONS),
        "bob": hash_staff_pin("9999", iterations=MIN_PIN_ITERATIONS),
    }

    assert check_staff_pin("alice", "4821", pins)
    assert not check_staff_pin("alice", "9999", pins)
    assert not check_staff_pin("mallory", "4821", pins)
    assert not check_staff_pin("alice", "4821", {})


def test_the_controllers_pin_format_is_read_as_documented() -> None:
    """pbkdf2_sha256$iterations$salt_hex$hash_hex, as kiosk_staff_pins carries it."""
    import hashlib

    salt = bytes.fromhex("a1b2c3d4e5f60718")
    digest = hashlib.pbkdf2_hmac("sha256", b"2468", salt, 20_000)
    stored = f"pbkdf2_sha256$20000${salt.hex()}${digest.hex()}"

    assert parse_pin_hash(stored) == (20_000, salt, digest)
    assert check_staff_pin("amina", "2468", {"amina": stored})


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        ("sha1$1$00$00", "expected pbkdf2_sha256"),
        ("pbkdf2_sha256$many$0011223344556677$0011223344556677", "must be a number"),
        (f"pbkdf2_sha256${MAX_PIN_ITERATIONS + 1}$0011223344556677$00112233", "iterations"),
        ("pbkdf2_sha256$100$0011223344556677$0011223344556677", "iterations"),
        ("pbkdf2_sha256$20000$00$0011223344556677", "the salt"),
        ("pbkdf2_sha256$20000$0011223344556677$XYZ", "the hash"),
    ],
)
def test_a_malformed_pin_hash_says_what_is_wrong_and_opens_nothing(stored: str, why: str) -> None:
    with pytest.raises(BadHash, match=why):
        parse_pin_hash(stored)
    assert not check_staff_pin("alice", "", {"alice": stored})

"""A QR code of the enrol command, for a technician standing at the PC with a phone or a
scanner: drawn by segno (a QR library from the package registry) as an SVG data URI."""

from __future__ import annotations

import segno


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code image (SVG, black on white, a quiet zone as the standard asks)."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=4, border=4, dark="#000", light="#fff"))

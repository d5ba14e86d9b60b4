"""Throw-away network namespaces for tests that drive real nftables."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def scratch_netns(prefix: str = "bt") -> Iterator[str]:
    """A new, empty network namespace, deleted (with its nftables tables) even on failure."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)

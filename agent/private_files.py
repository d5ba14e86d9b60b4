"""Files only root may read (credentials, remote settings), written so they are never half there."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import msgspec


def write_private_json(path: Path, value: object) -> None:
    """Write ``value`` as JSON to ``path`` with mode 0600, atomically (temp file, fsync, rename)."""
    # mkstemp creates the file with mode 0600, whatever the umask.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(msgspec.json.format(msgspec.json.encode(value)) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise

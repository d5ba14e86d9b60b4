"""The borne controller: the city's server for its public PCs, charging kiosks and hotspots.

``create_app`` is imported on first use, so that ``python -m controller.serve`` can let gevent
patch the standard library before Flask and the database drivers are imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from controller.app import create_app

        return create_app
    raise AttributeError(name)

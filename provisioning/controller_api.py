"""The controller, as the admin's scripts see it: its REST API with a personal API token.

The token (``Authorization: Bearer bat_…``) acts as its owner, so a technician's token enrols
only into the sites that technician covers; the controller checks that, not this module.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from provisioning.errors import ProvisioningError

TIMEOUT_S = 30.0
# An enrolment token lives one hour: long enough for a slow install, short if it leaks.
TOKEN_TTL_HOURS = 1


class ControllerApi:
    """``GET /api/v1/sites`` and ``POST /api/v1/enrolment-tokens``, with the admin's token."""

    def __init__(self, base_url: str, api_token: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProvisioningError(
                f"--controller must be the controller's http:// or https:// address, "
                f"got {base_url!r}"
            )
        if not api_token.strip():
            raise ProvisioningError(
                "no API token: set BORNE_API_TOKEN to a token made on the controller "
                "(your name in the header → API tokens, or borne controller api-token create)"
            )
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token.strip()
        self._sites: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked: http or https)
            f"{self.base_url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.api_token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (idem)
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", "")
            except (ValueError, AttributeError):
                message = ""
            if exc.code == 401:
                raise ProvisioningError(
                    f"the controller at {self.base_url} refused the API token (expired, revoked "
                    f"or mistyped): {message}"
                ) from exc
            raise ProvisioningError(
                f"the controller answered {exc.code} to {method} {path}: {message or exc.reason}"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ProvisioningError(
                f"cannot reach the controller at {self.base_url}: {exc}"
            ) from exc

    def site_id(self, site: str) -> int:
        """The id of ``site`` given by id or slug, among the sites the token's owner covers."""
        with self._lock:  # one listing for a whole batch
            if self._sites is None:
                self._sites = list(self._call("GET", "/api/v1/sites"))
            sites = self._sites
        for known in sites:
            if str(known["id"]) == site or known["slug"] == site:
                return int(known["id"])
        raise ProvisioningError(
            f"no site {site!r} among the {len(sites)} sites your token covers "
            "(give a site's id or slug, as on its page)"
        )

    def enrolment_token(self, site_id: int, kind: str, note: str) -> str:
        """A fresh one-time enrolment token for a device of ``kind`` at ``site_id``."""
        answer = self._call(
            "POST",
            "/api/v1/enrolment-tokens",
            {"site_id": site_id, "kind": kind, "ttl_hours": TOKEN_TTL_HOURS, "note": note[:200]},
        )
        return str(answer["token"])

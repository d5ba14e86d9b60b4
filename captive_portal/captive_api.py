"""RFC 8908, the Captive Portal API: what ``GET /api/captive`` tells a client about itself.

Devices find the URL in DHCP option 114 (RFC 8910) and ask it over HTTPS before and during a
session. Keys (IANA "Captive Portal API Keys"):
- ``captive`` (required): true until the client is let out;
- ``user-portal-url``: the page to let oneself out, which the RFC says MUST be HTTPS: our
  ``https://<hostname>:<https_port>/`` (the certificate is for ``hostname``). A portal run
  without TLS (a preview) gives its HTTP splash URL instead, the only one that works there;
- ``seconds-remaining``: only when not captive and the session is time-limited (always here);
- ``can-extend-session``: always false. A client online that opens the portal's page reads
  until when it is online, with nothing to tap (a session is renewed by tapping Connect once
  it has ended), so the OS must not suggest the page to extend the session.
The answer is ``application/captive+json`` and ``Cache-Control: private``: it is about one
client, so no shared cache may keep it.
"""

from __future__ import annotations

from typing import Any

MEDIA_TYPE = "application/captive+json"


def captive_status(*, remaining: int | None, user_portal_url: str) -> dict[str, Any]:
    """The JSON object for a client with ``remaining`` seconds (None: captive)."""
    status: dict[str, Any] = {
        "captive": remaining is None,
        "user-portal-url": user_portal_url,
    }
    if remaining is not None:
        status["seconds-remaining"] = remaining
    status["can-extend-session"] = False
    return status

"""The connectivity checks operating systems make on joining a network, and our answers.

Each OS fetches a known URL over plain HTTP and compares the answer with the one its own server
gives. Before a client is let out, the nftables redirect brings the probe here and we answer a
302 to the splash page: any answer but the expected one makes the OS say "sign in to network"
and open the portal (Android and Windows follow the redirect into their sign-in window; Apple's
and Firefox's also treat the non-matching body as captive). After the client is let out, probes
go to the real servers; if one still reaches us (walled garden, a race right after the tap), we
give the exact success answer so the device does not show a sign-in prompt again.

Expected answers (the operators' own servers):
- Android ``connectivitycheck.gstatic.com/generate_204`` (and ``/gen_204``): 204, empty body.
- Apple ``captive.apple.com/hotspot-detect.html`` (also ``/library/test/success.html``):
  ``<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>``.
- Windows ``www.msftconnecttest.com/connecttest.txt``: ``Microsoft Connect Test``;
  ``www.msftncsi.com/ncsi.txt``: ``Microsoft NCSI``. Windows then opens
  ``www.msftconnecttest.com/redirect`` for the sign-in page: we send it to the splash page.
- Firefox ``detectportal.firefox.com/success.txt``: ``success`` and a newline;
  ``/canonical.html``: a meta refresh to Mozilla's support page.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ProbeAnswer:
    status: int
    body: str
    content_type: str


APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX_CANONICAL = (
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'
)

# Path -> what the OS's own server answers (the "you are online" answer).
SUCCESS_ANSWERS: dict[str, ProbeAnswer] = {
    "/generate_204": ProbeAnswer(204, "", "text/plain"),
    "/gen_204": ProbeAnswer(204, "", "text/plain"),
    "/hotspot-detect.html": ProbeAnswer(200, APPLE_SUCCESS, "text/html"),
    "/library/test/success.html": ProbeAnswer(200, APPLE_SUCCESS, "text/html"),
    "/connecttest.txt": ProbeAnswer(200, "Microsoft Connect Test", "text/plain"),
    "/ncsi.txt": ProbeAnswer(200, "Microsoft NCSI", "text/plain"),
    "/success.txt": ProbeAnswer(200, "success\n", "text/plain"),
    "/canonical.html": ProbeAnswer(200, FIREFOX_CANONICAL, "text/html"),
}
PROBE_PATHS = frozenset(SUCCESS_ANSWERS)


def success_answer(path: str) -> ProbeAnswer:
    """The answer that tells the OS at ``path`` it is online."""
    return SUCCESS_ANSWERS[path]

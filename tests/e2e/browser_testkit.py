"""Shared helpers for the tests that drive Debian's Chromium: where it is, where screenshots go,
the one way staff sign in, and axe-core's accessibility check.

Playwright is imported inside the helpers, so importing this module never needs it: each browser
test module skips itself with ``pytest.importorskip("playwright")``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD = "a long password for the browser test"
TABLET = {"width": 768, "height": 1024}


def sign_in(page: Page, base_url: str, username: str) -> None:
    """Sign ``username`` (whose password is ``PASSWORD``) in to the staff UI; lands on Fleet."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Fleet", exact=True)).to_be_visible()


def axe_violations(page: Page, within: str | None = None) -> list[dict[str, object]]:
    """axe-core's WCAG 2.1 AA violations on the page, or within the element ``within`` selects
    (a CSS selector)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async ([within, tags]) => (await axe.run(within || document,"
        " {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html)}))",
        [within, WCAG_21_AA],
    )
    return list(result)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless; Playwright downloads no browser of its own.

    The flags keep it off the network: on this closed machine its background connections
    (updates, sync, QUIC) would only be refused, many at a time.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()

"""A mediator's flow on a phone, in French, in a real Chromium at 360 px against a real controller
process: open the site, see which PC is in use, give the resident 15 more minutes, reset the PC and
read the wipe report, without the page ever scrolling sideways and with axe-core finding nothing.

The public PCs are agents made of real Socket.IO clients in this process: they report their
resident's session in heartbeats, answer commands with what a real agent says, and send the
wipe report a real reset sends.
"""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, axe_violations
from tests.e2e.controller_process import heartbeat
from tests.e2e.fake_agent import ScriptedAgent

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-bib-centre-ville"
PHONE = {"width": 360, "height": 740}
PARIS = ZoneInfo("Europe/Paris")


class PublicPcAgent(ScriptedAgent):
    """A scripted public PC that also sends events of its own (heartbeats, wipe reports),
    numbered after its command results."""

    def send(self, event: dict[str, Any]) -> None:
        event = {**event, "seq": next(self._seq), "at": dt.datetime.now(dt.UTC).isoformat()}
        ack = self.client.call("events", {"events": [event]}, namespace="/agent", timeout=10)
        assert ack.get("stored") == 1, ack


@pytest.fixture
def agents():
    started: list[PublicPcAgent] = []
    yield started
    for agent in started:
        agent.close()


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide at {width[1]} px"


def accessible(page: Page) -> None:
    assert axe_violations(page) == []


def sign_in_in_french(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Parc", exact=True)).to_be_visible()


def test_mediator_on_a_phone_gives_more_time_resets_and_reads_the_wipe(
    live_controller, browser, agents
):
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    in_use_id, in_use_secret = live_controller.enrol_device(SITE, "pc", "pc-salle-1")
    free_id, free_secret = live_controller.enrol_device(SITE, "pc", "pc-salle-2")
    live_controller.send_heartbeat(free_id, free_secret, 1)
    pc = PublicPcAgent(live_controller.url, in_use_id, in_use_secret)
    agents.append(pc.connect())
    since = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=40)
    ends = since + dt.timedelta(hours=1)
    pc.send(
        {
            **heartbeat(1),
            "state": {
                "role": "pc",
                "session": "active",
                "guest_login": "open",
                "session_since": since.isoformat(),
                "session_ends_at": ends.isoformat(),
                "language": "fr",
            },
        }
    )

    page = browser.new_page(viewport=PHONE, locale="fr-FR", bypass_csp=True)
    sign_in_in_french(page, live_controller.url, "mia")
    page.get_by_role("link", name="Bibliothèque Centre-Ville").first.click()
    expect(page.locator("#live-indicator")).to_have_text("En direct", timeout=15_000)

    # The PCs come first: which one is in use, since when, how long it has left.
    in_use = page.locator(f"[data-pc-card][data-device-id='{in_use_id}']")
    free = page.locator(f"[data-pc-card][data-device-id='{free_id}']")
    expect(page.locator("#desk-title")).to_have_text("PC publics 1 libre sur 2")
    expect(in_use.locator(".pc-state")).to_contain_text(
        f"Occupé depuis {since.astimezone(PARIS):%H:%M}"
    )
    expect(in_use.locator("[data-pc-ends]")).to_contain_text(
        f"(jusqu\u2019à {ends.astimezone(PARIS):%H:%M})"
    )
    expect(free.locator(".pc-state")).to_have_text("Libre")
    more_time = page.get_by_role("button", name="+15 min pc-salle-1")
    reset = page.get_by_role("button", name="Réinitialiser maintenant… pc-salle-1")
    for button in (more_time, reset):  # within thumb reach: on the first two screens
        box = button.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 2 * PHONE["height"], box
    # "Reset all PCs" stands apart, after the PCs' own buttons.
    reset_all = page.get_by_role("button", name="Réinitialiser tous les PC…")
    assert reset_all.bounding_box()["y"] > reset.bounding_box()["y"]
    no_sideways_scroll(page)
    accessible(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-phone-pcs.png"), full_page=False)

    # 15 more minutes: the PC answers with its new end, the card and the row say it in French.
    new_end = ends + dt.timedelta(minutes=15)
    pc.output = f"session ends at {new_end.isoformat()} (+15 min)"
    more_time.click()
    expect(in_use.locator("[data-pc-ends]")).to_have_text(
        f"Plus de temps : la session se termine maintenant à {new_end.astimezone(PARIS):%H:%M}",
        timeout=15_000,
    )
    extended = pc.received[-1]
    assert extended["name"] == "extend_session"
    # 15 minutes is the default, so it goes unsaid.
    assert extended["args"] == {"language": "fr", "time_zone": "Europe/Paris"}
    row = page.locator("#recent-commands tbody tr").first
    expect(row.locator("[data-cmd=state]")).to_have_text("Terminé")
    expect(row.locator("[data-cmd=outcome]")).to_contain_text("la session se termine maintenant")
    no_sideways_scroll(page)

    # Reset the PC: asked first, then done, then the wipe report on the PC's card.
    pc.output = "ready in 80 ms; the wipe report follows"
    reset.click()
    dialog = page.get_by_role("dialog", name="Êtes-vous sûr ?")
    expect(dialog).to_contain_text("Réinitialiser pc-salle-1 pour la personne suivante")
    dialog.get_by_role("button", name="Oui, réinitialiser maintenant").click()
    row = page.locator("#recent-commands tbody tr").first
    expect(row.locator("[data-cmd=outcome]")).to_have_text(
        "Réinitialisé : prêt en 80 ms", timeout=15_000
    )
    started = dt.datetime.now(dt.UTC).isoformat()
    pc.send(
        {
            "type": "wipe_report",
            "started_at": started,
            "ready_ms": 80,
            "wipe_ms": 1900,
            "removed_files": 3120,
            "removed_bytes": 87 << 20,
            "ended_by": "command",
        }
    )
    expect(in_use.locator("[data-pc-wipe]")).to_contain_text(
        "Effacement terminé : tout est effacé", timeout=15_000
    )
    no_sideways_scroll(page)
    accessible(page)
    page.screenshot(path=str(ARTIFACTS / "site-phone-after-reset.png"), full_page=True)

    # The raw output stays one tap away.
    row.locator("details.cmd-raw summary").click()
    expect(row.locator("details.cmd-raw pre")).to_have_text(pc.output)

"""The public PCs' panels for a browser that asks for French: the session limits and their
form's refusal, the privacy wipes with the words the page's script writes live. What the PC
reported (the leftovers) is shown as it sent it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from agent import protocol
from controller.access import Role
from controller.fleet.ingest import _Pending, write_events
from tests.controller.testkit import csrf_token, page_text, sign_in, words
from tests.factories import make_device, make_site, make_user

FRENCH = {"Accept-Language": "fr"}
WIPE_WORDS = re.compile(
    r'<script type="application/json" data-page-words>(\{"wipe.*?)</script>', re.S
)


def test_session_limits_read_in_french(client, db):
    site = make_site(db, max_session_min=120)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get(f"/sites/{site.id}", headers=FRENCH)

    text = words(answer)
    assert "Sessions du public sur les PC publics" in text
    assert "Une session se termine après 15 minutes sans utilisation" in text
    assert "et après 120 minutes au total" in text
    assert "Enregistrer et envoyer aux PC" in page_text(answer)


def test_bad_session_limits_are_refused_in_french(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/session-limits",
        data={"idle_timeout_min": "1", "csrf_token": csrf_token(client, f"/sites/{site.id}")},
        headers=FRENCH,
    )

    assert answer.status_code == 400
    assert "le délai d'inactivité doit être compris entre 2 et 1440 minutes" in page_text(answer)
    assert site.idle_timeout_min == 15


def test_wipes_read_in_french_and_the_leftovers_as_the_pc_sent_them(client, db, event_handlers):
    site = make_site(db)
    pc = make_device(db, site, name="pc-accueil")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    left = protocol.Leftover(area="tmp", path="/tmp/cv.pdf", reason="immutable")
    report = protocol.WipeReport(
        seq=1, at=now, started_at=now, ready_ms=150, wipe_ms=2100, removed_files=4200,
        removed_bytes=12 << 20, leftovers=[left], leftovers_total=1, login_locked=True,
    )  # fmt: skip
    write_events(db, [_Pending(pc.id, [report])], handlers=event_handlers)

    answer = client.get(f"/devices/{pc.id}", headers=FRENCH)

    text = words(answer)
    assert "Effacements des données" in text and "Prêt en" in text
    assert "4200 fichiers" in text
    assert "1 élément restant, session invité verrouillée" in text
    assert "/tmp/cv.pdf — immutable" in text


def test_the_live_wipe_words_are_given_in_the_readers_language(client, db):
    pc = make_device(db, name="pc-accueil")
    sign_in(client, make_user(db, Role.ADMIN))

    french = WIPE_WORDS.search(page_text(client.get(f"/devices/{pc.id}", headers=FRENCH)))
    english = WIPE_WORDS.search(page_text(client.get(f"/devices/{pc.id}")))

    assert french and english
    fr, en = json.loads(french.group(1)), json.loads(english.group(1))
    assert fr["wipe_files"] == {"one": "%(count)s fichier", "other": "%(count)s fichiers"}
    assert fr["wipe_finished"] == "Effacement terminé : %(result)s, prêt en %(ready)s."
    assert en["wipe_left_locked"]["one"] == "%(count)s left, login locked"
    assert en["wipe_clean"] == "Nothing left"

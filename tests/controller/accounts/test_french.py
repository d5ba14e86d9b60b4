"""The staff pages in French first (controller/i18n.py): French by default, the browser's choice
between French and English, a language saved per account, dates in the city's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.access import Role
from controller.web.pages import ago, when
from tests.controller.testkit import csrf_token, page_text, sign_in
from tests.factories import PASSWORD, make_site, make_user

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


def test_a_browser_without_a_language_gets_french(app):
    page = app.test_client().get("/login", headers={"Accept-Language": ""})

    assert '<html lang="fr"' in page.get_data(as_text=True)
    assert "Se connecter" in page_text(page)


def test_a_browser_asking_for_english_gets_english(app):
    page = app.test_client().get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})

    assert '<html lang="en"' in page.get_data(as_text=True)
    assert "Sign in" in page_text(page)


def test_a_wrong_password_and_a_refusal_are_said_in_french(app, db):
    mediator = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"

    wrong = sign_in(client, mediator, password="not the password")
    sign_in(client, mediator)
    refused = client.get("/users")

    assert "Identifiant inconnu ou mot de passe erroné." in page_text(wrong)
    assert refused.status_code == 403
    assert "Le rôle médiateur·rice ne permet pas de gérer les comptes" in page_text(refused)


def test_the_language_saved_on_an_account_wins_over_the_browser(app, db):
    user = make_user(db, Role.ADMIN)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    sign_in(client, user)
    assert "Mon compte" in page_text(client.get("/account/password"))

    saved = client.post(
        "/account/language",
        data={"language": "en", "csrf_token": csrf_token(client, "/account/password")},
    )

    assert saved.status_code == 302
    assert "The pages are now in this language." in page_text(client.get("/account/password"))
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)
    client.post(
        "/account/language",
        data={"language": "", "csrf_token": csrf_token(client, "/account/password")},
    )
    assert '<html lang="fr"' in client.get("/").get_data(as_text=True)  # the browser's again


def test_an_unknown_language_is_refused_and_changes_nothing(app, db):
    user = make_user(db, Role.ADMIN, language="fr")
    client = app.test_client()
    sign_in(client, user, PASSWORD)

    refused = client.post(
        "/account/language",
        data={"language": "xx", "csrf_token": csrf_token(client, "/account/password")},
    )

    assert refused.status_code == 400
    db.refresh(user)
    assert user.language == "fr"


def test_dates_are_shown_in_the_citys_time_zone_and_the_readers_words(app):
    summer_noon_in_grenoble = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    with app.test_request_context(headers=FRENCH):
        french = when(summer_noon_in_grenoble)
        french_ago = ago(datetime(2026, 7, 1, 9, 55, tzinfo=UTC), now=summer_noon_in_grenoble)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = when(summer_noon_in_grenoble)

    assert french == "1 juil. 2026 12:00"
    assert english == "1 Jul 2026 12:00"
    assert french_ago == "il y a 5\u00a0min"  # with the no-break space French puts there

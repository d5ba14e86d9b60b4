"""``borne controller …`` speaks its reader's language (controller/i18n.py): French by default,
English when the terminal asks for it, as the staff pages do."""

from __future__ import annotations

import pytest

from controller.i18n import terminal_language


@pytest.fixture
def terminal(monkeypatch):
    """A terminal whose locale variables are exactly the ones a test gives."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)

    def set_locale(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_locale


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "fr"),
        ({"LANG": "C.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LANGUAGE": "de:en"}, "en"),
    ],
)
def test_the_terminal_language_follows_gettext_precedence(variables, expected):
    assert terminal_language(variables) == expected


def test_a_french_terminal_reads_french(run, terminal):
    terminal(LANG="fr_FR.UTF-8")

    created = run("user", "add", "amina", "--role", "admin", "--password-stdin", input="x" * 16)
    unknown = run("device", "retire", "no-such-device")

    assert created.exit_code == 0, created.output
    assert "compte admin amina créé" in created.output
    assert unknown.exit_code == 1
    assert "aucun appareil no-such-device" in unknown.output.lower()


def test_an_english_terminal_reads_english(run, terminal):
    terminal(LANG="en_US.UTF-8")

    assert (
        "created admin amina"
        in run("user", "add", "amina", "--role", "admin", "--password-stdin", input="x" * 16).output
    )


def test_a_plain_server_terminal_reads_french(tmp_path, monkeypatch, terminal):
    from click.testing import CliRunner

    from controller.cli import controller

    terminal(LANG="C.UTF-8")
    monkeypatch.setenv("BORNE_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("BORNE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    result = CliRunner().invoke(controller, ["places", "list"])

    assert result.exit_code == 2
    assert "aucun répertoire de données du contrôleur" in result.output
    assert "BORNE_DATA_DIR" in result.output


def test_plural_messages_take_the_terminal_language(terminal):
    from controller.i18n import ngettext

    terminal(LANG="fr_FR.UTF-8")
    french = ngettext(
        "%(num)d hotspot will be sent its site's new opening hours",
        "%(num)d hotspots will be sent their site's new opening hours",
        2,
    )
    terminal(LANGUAGE="en")
    english = ngettext(
        "%(num)d hotspot will be sent its site's new opening hours",
        "%(num)d hotspots will be sent their site's new opening hours",
        1,
    )

    apostrophe = "\N{RIGHT SINGLE QUOTATION MARK}"
    assert french == f"2 points d{apostrophe}accès recevront les nouveaux horaires de leur lieu"
    assert english == "1 hotspot will be sent its site's new opening hours"

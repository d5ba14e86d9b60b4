"""``borne controller token …`` (controller/fleet/cli.py): enrolment tokens from a shell."""

from __future__ import annotations

from tests.controller.testkit import DEMO_PLACES


def test_import_places_then_make_a_token(run):
    assert "15 sites created" in run("places", "import", str(DEMO_PLACES)).output
    result = run("token", "create", "--site", "grenoble-mdh-teisseire", "--kind", "pc")
    assert result.exit_code == 0 and result.stdout.startswith("bet_")


def test_token_for_an_unknown_site_is_a_clear_error(run):
    result = run("token", "create", "--site", "nowhere")
    assert result.exit_code == 1 and "no site 'nowhere'" in result.output

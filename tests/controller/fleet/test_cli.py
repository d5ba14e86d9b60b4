"""``borne controller token …`` (controller/fleet/cli.py): enrolment tokens from a shell."""

from __future__ import annotations

import re

from tests.controller.testkit import DEMO_PLACES


def test_import_places_then_make_a_token(run):
    assert "sites created: 15" in run("places", "import", str(DEMO_PLACES)).output
    result = run("token", "create", "--site", "grenoble-mdh-teisseire", "--kind", "pc")
    assert result.exit_code == 0 and result.stdout.startswith("bet_")


def test_token_for_an_unknown_site_is_a_clear_error(run):
    result = run("token", "create", "--site", "nowhere")
    assert result.exit_code == 1 and "no site 'nowhere'" in result.output


def test_token_revoke_and_device_retire(run):
    run("places", "import", str(DEMO_PLACES))
    created = run("token", "create", "--site", "grenoble-bib-centre-ville")
    token_id = re.search(r"token id (\d+)", created.stderr).group(1)

    revoked = run("token", "revoke", token_id)
    again = run("token", "revoke", "999999")
    unknown_device = run("device", "retire", "nope")

    assert revoked.exit_code == 0 and "it enrols nothing now" in revoked.output
    assert again.exit_code == 1 and "no enrolment token 999999" in again.output
    assert unknown_device.exit_code == 1 and "no device nope" in unknown_device.output

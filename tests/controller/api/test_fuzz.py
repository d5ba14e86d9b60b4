"""The API under a fuzzer: schemathesis generates requests from ``/api/v1/openapi.json`` for every
operation, sent as a member of staff (an API token) or as a device (its id and secret), as the
operation's security says. No server error, no response outside its schema, no status the
document does not list, 405 with ``Allow``. A bounded number of examples keeps it in the suite.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance

from controller.access import Role
from controller.accounts import api_tokens
from tests.factories import make_device, make_site, make_user

DEVICE_SECRET = "s3cret-for-the-fuzzer"
EXAMPLES = 25  # per operation: enough to find the shapes that break, few enough for the suite


@pytest.fixture
def fuzzed(make_own_app: Any) -> Iterator[tuple[Flask, dict[str, dict[str, str]]]]:
    """An app on a database of its own with a site, an enrolled PC, and the credentials each
    security scheme of the document needs."""
    app: Flask = make_own_app()
    with app.extensions["borne.db"].session() as session:
        site = make_site(session)
        device = make_device(session, site, secret=DEVICE_SECRET)
        admin = make_user(session, Role.ADMIN)
        _, token = api_tokens.create_token(session, admin, admin, name="fuzzer")
        basic = base64.b64encode(f"{device.id}:{DEVICE_SECRET}".encode()).decode()
    yield (
        app,
        {
            "staffToken": {"Authorization": f"Bearer {token}"},
            "deviceBasic": {"Authorization": f"Basic {basic}"},
        },
    )


def test_the_api_keeps_its_document_under_a_fuzzer(
    fuzzed: tuple[Flask, dict[str, dict[str, str]]],
) -> None:
    # Each operation in turn, with Hypothesis driven from here: schemathesis's pytest plugin
    # does not run under this pytest, and one fixture for all operations is cheaper anyway.
    # Not its "ignored auth" check: it sends a made-up session cookie beside our valid token
    # and expects a refusal, but staff operations take either (a token decides alone), which
    # is what tests/controller/accounts/test_api_tokens.py proves, wrong tokens included.
    # Nor "positive data acceptance": a body can fit its schema and still be refused in words
    # (an unknown command's name, a device of another site, 200.0 where the protocol's
    # integers are written without a fraction), with a documented 4xx.
    app, credentials = fuzzed
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10

    for operation in operations:
        try:
            fuzz(operation, _credentials_for(operation.definition.raw, credentials))
        except (Exception, BaseExceptionGroup) as exc:  # each operation's, reported together
            failures[operation.label] = str(exc)[:2000]

    assert failures == {}, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    """Send ``operation`` its examples with ``headers``, checking every answer."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,  # machines here are shared: time is not what this test measures
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same requests on every run: a failure can be replayed
        database=None,
    )
    def examples(case: Any) -> None:
        case.call_and_validate(
            headers=headers, excluded_checks=[ignored_auth, positive_data_acceptance]
        )

    examples()


def _credentials_for(
    definition: dict[str, Any], credentials: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The headers of the first security requirement of the operation that we can meet."""
    for requirement in definition.get("security", []):
        for scheme in requirement:
            if scheme in credentials:
                return credentials[scheme]
    return {}

"""What every staff page shares (controller/web/): safe redirects, error pages in the layout."""

from __future__ import annotations

import pytest

from controller.access import Role
from controller.web.pages import safe_next
from tests.controller.testkit import sign_in
from tests.factories import make_user


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/sites/3", "/sites/3"),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_only_relative_paths_are_safe_to_redirect_to(target, expected):
    assert safe_next(target) == expected


def test_error_pages_use_the_layout_with_the_reason(client, db):
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/devices/00000000-0000-0000-0000-000000000000")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert '<html lang="en"' in page and "Skip to main content" in page
    assert "No device 00000000-0000-0000-0000-000000000000" in page

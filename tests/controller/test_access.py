"""Roles and scopes (controller/access.py), enforced by the domain whatever the adapter."""

from __future__ import annotations

import pytest

from controller import access
from controller.access import Action, Role
from tests.factories import make_organisation, make_user

EXPECTED = {
    Role.ADMIN: set(Action),
    Role.TECHNICIAN: {
        Action.VIEW_FLEET,
        Action.ENROL_DEVICE,
        Action.VIEW_AUDIT,
        Action.SEND_COMMANDS,
    },
    Role.MEDIATOR: {Action.VIEW_FLEET, Action.SEND_COMMANDS},
    Role.MANAGER: {Action.VIEW_FLEET, Action.VIEW_STATISTICS},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_allows_exactly_its_actions(db, role, action):
    user = make_user(db, role, organisations=[make_organisation(db)])
    assert access.can(user, action) is (action in EXPECTED[role])


def test_inactive_user_may_do_nothing(db):
    user = make_user(db, Role.ADMIN, active=False)
    assert not any(access.can(user, action) for action in Action)

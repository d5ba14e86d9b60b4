"""Staff accounts (controller/accounts/service.py): nothing is hashed before it is needed, and
each app signs people in with its own login manager."""

from __future__ import annotations

import subprocess
import sys

from controller.access import Role
from controller.accounts import service as users
from tests.factories import PASSWORD, make_user

COUNT_HASHES_AT_IMPORT = """
import argon2
calls = []
hash_password = argon2.PasswordHasher.hash
def counting(self, *args, **kwargs):
    calls.append(1)
    return hash_password(self, *args, **kwargs)
argon2.PasswordHasher.hash = counting
import controller.app, controller.cli
print(len(calls))
"""


def test_importing_the_controller_computes_no_password_hash():
    # argon2 costs tens of milliseconds and memory on purpose: never at import time.
    answer = subprocess.run(
        [sys.executable, "-c", COUNT_HASHES_AT_IMPORT],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert answer.stdout.strip() == "0"


def test_an_unknown_user_and_a_wrong_password_are_refused_alike(db):
    user = make_user(db, Role.MEDIATOR, organisations=[])
    assert users.authenticate(db, "nobody-here", PASSWORD) is None
    assert users.authenticate(db, user.username, "wrong password!") is None
    assert users.authenticate(db, user.username, PASSWORD) is user


def test_each_app_has_its_own_login_manager(app, own_app):
    assert app.login_manager is not own_app.login_manager
    assert app.login_manager.login_view == "accounts.login"

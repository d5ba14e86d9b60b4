"""Behind a TLS proxy (controller/proxies.py, settings trusted_proxies and public_url): the
token page prints the https:// command devices must run, and nobody else's X-Forwarded-*
headers are believed."""

from __future__ import annotations

import re

import pytest

from borne.settings import ImproperlyConfigured
from controller import create_app
from controller.access import Role
from tests.controller.testkit import csrf_token, sign_in
from tests.factories import make_site, make_user

BEHIND_NGINX = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "borne.example.org",
    # Over https, Flask-WTF checks the page came from this site, as browsers say it did.
    "Referer": "https://borne.example.org/tokens",
}


def enrol_command(app, db, peer: str) -> str:
    client = app.test_client()
    environ = {"REMOTE_ADDR": peer}
    client.environ_base.update(environ)
    sign_in(client, make_user(db, Role.ADMIN))
    page = client.post(
        "/tokens",
        data={
            "site": make_site(db).id,
            "kind": "",
            "validity_hours": "24",
            "csrf_token": csrf_token(client, "/tokens"),
        },
        headers=BEHIND_NGINX,
    ).get_data(as_text=True)
    return re.search(r"borne agent enrol --controller (\S+)", page).group(1)


def test_behind_a_trusted_proxy_pages_print_https_commands(make_app, db):
    app = make_app(trusted_proxies=["127.0.0.1"])
    assert enrol_command(app, db, "127.0.0.1") == "https://borne.example.org"
    # The same headers straight from a client are not believed.
    assert enrol_command(app, db, "192.0.2.7") == "http://localhost"


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, db, app):
    assert enrol_command(app, db, "127.0.0.1") == "http://localhost"


def test_a_public_url_is_what_pages_print(make_app, db):
    app = make_app(public_url="https://borne.grenoble.fr")
    assert enrol_command(app, db, "127.0.0.1") == "https://borne.grenoble.fr"


@pytest.mark.parametrize(
    ("setting", "value"), [("trusted_proxies", ["nginx.local"]), ("public_url", "borne.example")]
)
def test_a_bad_proxy_setting_is_named_at_start(tmp_path, setting, value):
    with pytest.raises(ImproperlyConfigured, match=setting):
        create_app({"data_dir": str(tmp_path), "testing": True, setting: value})

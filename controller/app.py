"""The app factory: defaults in code, then the TOML file, then ``BORNE_*``, then ``config``.

The kernel's shared parts are set up first; then each domain, listed once in :data:`DOMAINS`,
adds its blueprints, panels, periodic jobs and signal receivers with its ``init_app``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from flask import Flask

from controller import (
    accounts,
    commands,
    configuration,
    fleet,
    hotspots,
    lockers,
    maintenance,
    metrics,
    places,
    public_pcs,
    public_places,
    statistics,
)
from controller.api import init_api, register_api
from controller.config import load_controller_settings, private_data_dir, secret_key_for
from controller.context import close_session
from controller.db import Database
from controller.extensions import csrf
from controller.headers import init_security_headers
from controller.i18n import init_i18n
from controller.ops import ops
from controller.proxies import TrustedProxies
from controller.realtime import init_realtime
from controller.web.errors import register_error_handlers
from controller.web.pages import init_pages

# Every domain of the controller, once. Their tables share one metadata (one Alembic history),
# and ``borne controller`` gathers their command-line groups from here.
DOMAINS = (
    places,
    accounts,
    fleet,
    commands,
    maintenance,
    public_pcs,
    hotspots,
    lockers,
    configuration,
    statistics,
    public_places,
)


def load_models() -> None:
    """Import every domain's tables onto the one metadata (``controller.db.Base``).

    Anything that maps rows or compares the schema needs all of them: a site's devices are the
    fleet's, a command's site the places'. The app factory, the command line, the migrations
    and the demo call this; importing a domain package alone does not load its models.
    """
    importlib.import_module("controller.audit")  # the kernel's one table: the audit log
    for domain in DOMAINS:
        importlib.import_module(f"{domain.__name__}.models")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a controller app. ``config`` overrides settings (tests pass a dict)."""
    load_models()
    settings = load_controller_settings(overrides=config)
    if not settings.database_url:  # the embedded default: a SQLite file in the data directory
        private_data_dir(settings)
    app = Flask(__name__, static_folder="web/static", template_folder="web/templates")
    app.config.update(
        SECRET_KEY=secret_key_for(settings),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        TESTING=settings.testing,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the login session
        JSON_SORT_KEYS=False,
    )
    app.extensions["borne.settings"] = settings
    app.extensions["borne.db"] = Database(
        settings.sqlalchemy_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    csrf.init_app(app)
    init_realtime(app, settings)
    metrics.init_metrics(app)
    init_security_headers(app)
    init_i18n(app, settings, [domain.__name__ for domain in DOMAINS])
    init_pages(app)
    init_api(app)
    for domain in DOMAINS:
        domain.init_app(app)
    register_api(app)
    app.register_blueprint(ops)
    register_error_handlers(app)
    app.teardown_appcontext(close_session)
    if settings.trusted_proxies:  # outermost: Socket.IO's requests pass through it too
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    return app

"""The app factory: defaults in code, then the TOML file, then ``BORNE_*``, then ``config``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from controller import metrics, realtime
from controller.config import load_controller_settings, secret_key_for
from controller.context import close_session, load_user
from controller.db import Database
from controller.errors_http import register_error_handlers
from controller.extensions import csrf, login_manager
from controller.headers import init_security_headers
from controller.ingest import EventIngest, HeartbeatHistory


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a controller app. ``config`` overrides settings (tests pass a dict)."""
    settings = load_controller_settings(overrides=config)
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
    database = Database(settings.sqlalchemy_url, sqlite_synchronous=settings.sqlite_synchronous)
    app.extensions["borne.db"] = database

    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to see this page."
    csrf.init_app(app)

    hub = realtime.init_realtime(app, settings)
    ingest = EventIngest(
        database,
        on_flushed=realtime.live_updates_sender(hub),
        spawn=hub.start_background_task,
        history=HeartbeatHistory(settings.heartbeat_history_s),
        linger_s=settings.flush_linger_ms / 1000,
    )
    app.extensions["borne.ingest"] = ingest
    app.extensions["borne.agent_channel"] = realtime.attach_agent_channel(hub, database, ingest)
    metrics.init_metrics(app)
    init_security_headers(app)

    from controller.api import api
    from controller.ops import ops
    from controller.web import web

    csrf.exempt(api)  # JSON only: a cross-site form cannot send application/json (see api/)
    app.register_blueprint(api, url_prefix="/api/v1")
    app.register_blueprint(web)
    app.register_blueprint(ops)
    register_error_handlers(app)

    login_manager.user_loader(load_user)
    app.teardown_appcontext(close_session)
    return app

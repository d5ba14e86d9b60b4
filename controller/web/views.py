"""Placeholder views, replaced by the full staff UI."""

from __future__ import annotations

from flask_login import login_required

from controller.web import web


@web.get("/login")
def login() -> str:
    return "login"


@web.get("/")
@login_required
def index() -> str:
    return "fleet"

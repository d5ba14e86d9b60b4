"""What every staff page needs: the layout's context, the navigation, template filters, and the
answers a page's script asks for in JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from controller import access
from controller.access import Action
from controller.db import utcnow

Page = str | tuple[str, int] | Response
NAVIGATION = "borne.navigation"
HOME = "borne.home"


@dataclass(frozen=True)
class NavItem:
    """An entry of the main navigation, shown to the roles that may do ``action``."""

    endpoint: str
    label: str
    pictogram: str
    action: Action
    order: int
    also_current_on: tuple[str, ...] = ()  # endpoints of pages below this entry


def set_home(app: Flask, endpoint: str) -> None:
    """The page the brand and the error pages lead back to (a domain's, named once)."""
    app.extensions[HOME] = endpoint


def add_navigation(app: Flask, item: NavItem) -> None:
    items: list[NavItem] = app.extensions.setdefault(NAVIGATION, [])
    items.append(item)
    items.sort(key=lambda i: i.order)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site; open redirects to other hosts are refused."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:  # some browsers read /\host as //host
        return None
    return target


def layout_context() -> dict[str, Any]:
    navigation: list[NavItem] = []
    user = None
    try:
        if current_user.is_authenticated:
            user = current_user._get_current_object()  # the account, not the proxy
            navigation = [
                item
                for item in current_app.extensions.get(NAVIGATION, [])
                if access.can(user, item.action)
            ]
    except SQLAlchemyError:  # an error page must render even when the database is down
        user = None
    home = current_app.extensions.get(HOME)
    return {"me": user, "navigation": navigation, "home_url": url_for(home) if home else "/"}


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """A past moment in plain words: "just now", "4 min ago", "3 days ago"."""
    if moment is None:
        return "never"
    seconds = ((now or utcnow()) - moment).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    if seconds < 10:
        return "just now"
    return _span(seconds) + " ago"


def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''}"
    return f"{int(seconds)} s"


def duration(seconds: float | None) -> str:
    return "—" if seconds is None else _span(float(seconds))


def milliseconds(value: int | None) -> str:
    """A duration in milliseconds: "42 ms", "1.5 s", "3 min"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{value} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    return _span(value / 1000)


def size(count: float | None) -> str:
    """Bytes in binary units, as an operating system shows them."""
    if count is None:
        return "—"
    if count < 1024:
        return f"{int(count)} B"
    exponent = min(int(math.log(count, 1024)), 5)
    return f"{count / 1024**exponent:.1f} {'BKMGTP'[exponent]}iB"


def percent(value: float | None) -> str:
    # Half up, as the page's script rounds live values (Python's format rounds half to even).
    return "—" if value is None else f"{math.floor(value + 0.5)} %"


def utc(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def wants_json() -> bool:
    """Whether the page's script sent the form (it asks for JSON) rather than the browser."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def csrf_refused(exc: CSRFError) -> Page:
    message = (
        "This form was too old or did not come from this site, so nothing was changed. "
        "Go back, reload the page and try again."
    )
    if wants_json():
        return json_error(400, "csrf", message)
    return render_template("error.html", status=400, message=message), 400


def init_pages(app: Flask) -> None:
    app.context_processor(layout_context)
    for name, function in {
        "ago": ago,
        "duration": duration,
        "ms": milliseconds,
        "size": size,
        "percent": percent,
        "utc": utc,
    }.items():
        app.add_template_filter(function, name)
    app.register_error_handler(CSRFError, csrf_refused)

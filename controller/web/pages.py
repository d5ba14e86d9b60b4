"""What every staff page needs: the layout's context, the navigation, template filters, and the
answers a page's script asks for in JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_timedelta
from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import LazyString, format_date, format_datetime, get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from controller import access
from controller.access import ROLE_NAMES, Action, Role
from controller.db import utcnow
from controller.i18n import _

Page = str | tuple[str, int] | Response
NAVIGATION = "borne.navigation"
HOME = "borne.home"


@dataclass(frozen=True)
class NavItem:
    """An entry of the main navigation, shown to the staff whose role may do ``action``."""

    endpoint: str
    label: str | LazyString  # _l("…"): shown in the reader's language
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
    """A moment in plain words, in the reader's language: "just now", "4 min ago"."""
    if moment is None:
        return _("never")
    elapsed = moment - (now or utcnow())
    if timedelta(seconds=-10) < elapsed <= timedelta(0):
        return _("just now")
    return str(
        format_timedelta(
            elapsed, add_direction=True, format="short", threshold=1.5, locale=_reader_locale()
        )
    )


def _span(seconds: float) -> str:
    return str(
        format_timedelta(
            timedelta(seconds=seconds), format="short", threshold=1.5, locale=_reader_locale()
        )
    )


def _reader_locale() -> str:
    locale = get_locale()
    return str(locale) if locale is not None else "fr"


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


def role_name(role: str) -> str:
    """A role as people call it, in the reader's language."""
    return str(ROLE_NAMES.get(Role(role), role))


def day_name(day: date, with_date: bool = False) -> str:
    """A local day in the reader's words: "mardi", or "mardi 22 décembre"."""
    return str(format_date(day, "EEEE d MMMM" if with_date else "EEEE")).capitalize()


def when(moment: datetime | None) -> str:
    """A moment in the city's time zone and the reader's words: "2 déc. 2026 14:05"."""
    return "—" if moment is None else format_datetime(moment, "d MMM y HH:mm")


def wants_json() -> bool:
    """Whether the page's script sent the form (it asks for JSON) rather than the browser."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def csrf_refused(exc: CSRFError) -> Page:
    message = _(
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
        "when": when,
        "role_name": role_name,
        "day_name": day_name,
    }.items():
        app.add_template_filter(function, name)
    app.register_error_handler(CSRFError, csrf_refused)

"""The public pages of places, for residents and social workers, without signing in: the list
and the map at ``/places``, a page per place at ``/places/<slug>``, and their live state in
``/places/state.json`` (aggregates only), which the pages poll to update without reloading.

The pages speak the portal's nine languages (``?lang=``, then the browser's), right to left for
Arabic and Dari; everything works without JavaScript and without map tiles: the script adds the
map, the "places near me" button (which sends ``?lat=&lon=`` rounded to about 100 m) and the
live updates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for

from captive_portal.i18n import LANGUAGES, Language, UnknownLanguage, choose_language
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError
from controller.headers import CONTENT_SECURITY_POLICY
from controller.i18n import _, use_page_language
from controller.places.opening_hours import SchedulePolicy
from controller.public_places import service, words
from controller.public_places.service import LiveState, PublicPlace

public_places_web = Blueprint(
    "public_places",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/places/static",
)
DEFAULT_LANGUAGE = "fr"  # the city's
PAGES = ("public_places.index", "public_places.place")  # the switch leads elsewhere to the list
STATE_MAX_AGE_S = 15  # state.json may be cached this long: the pages poll every 30 s


@public_places_web.before_request
def choose_page_language() -> None:
    """``?lang=`` (the switch's links), else the browser's choice among the nine, else French;
    an unknown ``?lang=`` is a 400 in the browser's language."""
    try:
        language = choose_language(
            request.args.get("lang"), None, request.accept_languages.best_match, DEFAULT_LANGUAGE
        )
    except UnknownLanguage:
        _speak(choose_language(None, None, request.accept_languages.best_match, DEFAULT_LANGUAGE))
        raise DomainError(
            _(
                "There is no page in the language %(code)s. Choose one of: %(known)s.",
                code=repr(request.args.get("lang", "")[:20]),
                known=", ".join(language.code for language in LANGUAGES),
            )
        ) from None
    _speak(language)


def _speak(language: Language) -> None:
    g.places_language = language
    use_page_language(language.locale)


@public_places_web.after_request
def public_headers(response: Response) -> Response:
    """The map's tiles come from the tile server: the one image source allowed besides ours."""
    tiles = _tile_origin()
    if tiles:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data:", f"img-src 'self' data: {tiles}"
        )
    language = g.get("places_language")
    if language is not None:
        response.headers["Content-Language"] = language.code
    response.vary.add("Accept-Language")
    return response


@public_places_web.errorhandler(DomainError)
def problem(exc: DomainError) -> tuple[str | Response, int]:
    """Bad input and unknown places, on a page in the visitor's language (in JSON for the
    pages' script)."""
    if request.endpoint == "public_places.state":
        return jsonify(error=exc.code, message=exc.message), exc.status
    return _page("public_places/problem.html", status=exc.status, message=exc.message), exc.status


@public_places_web.get("/places")
def index() -> str:
    """Every public place; the open ones nearest first when the visitor shared where they are."""
    near = service.coordinates_from(request.args.get("lat"), request.args.get("lon"))
    now = utcnow()
    places = service.public_places(db_session(), now=now, policy=_policy(), near=near)
    return _page(
        "public_places/index.html",
        places=places,
        states=_states(places, now),
        near=near,
        now=now,
        map_tiles=settings_of(current_app).public_map_tiles,
        map_attribution=settings_of(current_app).public_map_attribution,
    )


@public_places_web.get("/places/<slug>")
def place(slug: str) -> str:
    """One place: the list's entry, its week, how to reach it."""
    now = utcnow()
    policy = _policy()
    found = service.find_public_place(db_session(), slug, now=now, policy=policy)
    today = now.astimezone(policy.zone).date()
    closures = service.closures_by_site(db_session(), [found.site_id], today)
    week = service.opening_days(found.opening_hours, today, policy, closures.get(found.site_id, ()))
    return _page(
        "public_places/place.html",
        place=found,
        states=_states([found], now),
        week=week,
        now=now,
    )


@public_places_web.get("/places/state.json")
def state() -> Response:
    """Each public place's live state and hours in words of ``?lang=``, with the figures; the
    pages poll it. Counts per place only: cacheable, the same for every visitor."""
    now = utcnow()
    places = service.public_places(db_session(), now=now, policy=_policy())
    states = _states(places, now)
    response = jsonify(
        language=g.places_language.code,
        places={place.slug: _live_json(place, states[place.site_id], now) for place in places},
    )
    response.cache_control.public = True
    response.cache_control.max_age = STATE_MAX_AGE_S
    return response


def _live_json(place: PublicPlace, live: LiveState, now: datetime) -> dict[str, Any]:
    return {
        "open": place.hours.is_open,
        "hours": words.hours_words(place.hours, now),
        "pcs": words.pcs_words(live),
        "pcs_free": live.pcs_free,
        "pcs_total": live.pcs_total,
        "wifi": words.wifi_words(live),
        "wifi_on": None if live.wifi is None else live.wifi == service.WifiState.ON,
        "lockers": words.lockers_words(live),
        "lockers_free": live.lockers_free,
        "lockers_total": live.lockers_total,
    }


def _states(places: list[PublicPlace], now: datetime) -> dict[int, LiveState]:
    return service.live_states(
        db_session(), {place.site_id: place.hours.is_open for place in places}, now
    )


def _policy() -> SchedulePolicy:
    return SchedulePolicy(timezone=settings_of(current_app).timezone)


def _tile_origin() -> str:
    """Where the tiles come from, for the page's policy: ``https://*.tile.example.org`` for a
    template with ``{s}`` subdomains; "" without a map."""
    tiles = settings_of(current_app).public_map_tiles
    if not tiles:
        return ""
    parts = urlsplit(tiles.replace("{s}", "s-placeholder"))
    host = (parts.hostname or "").replace("s-placeholder", "*")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _page(template: str, **context: Any) -> str:
    language: Language = g.get("places_language") or next(iter(LANGUAGES))
    # The switch keeps the page and the visitor's position: only the language changes.
    here: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("lat", "lon")}
    here.update(request.view_args or {})
    endpoint = request.endpoint if request.endpoint in PAGES else "public_places.index"
    switch = {other.code: url_for(endpoint, **here, lang=other.code) for other in LANGUAGES}
    return render_template(
        template,
        language=language,
        languages=LANGUAGES,
        switch=switch,
        words=words,
        offers=words.OFFERS,
        state_url=url_for("public_places.state", lang=language.code),
        **context,
    )

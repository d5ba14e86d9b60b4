"""The portal's HTTP side: pages, OS probes and the RFC 8908 API, thin over :class:`Admission`.

Requests come from three places: the resident's browser on our name or address (pages), any
host name at all through the nftables redirect (a client's ``http://example.org/x`` arrives with
that foreign ``Host``), and the OS's probes (also foreign hosts). Foreign hosts get a 302 to
the splash page at ``http://<gateway address>:<http_port>/``: the address, not the name, so it
works even where the client's DNS is not ours yet. Probes and the API answer on any host.

Every malformed request gets a 4xx with a page a person can act on, never a 500.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from flask import (
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
)
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from captive_portal import audio, i18n, nearby
from captive_portal.access import ClientAddress
from captive_portal.admission import Admission, ConnectOutcome
from captive_portal.captive_api import MEDIA_TYPE, captive_status
from captive_portal.codes import MAX_CODE_INPUT
from captive_portal.probes import PROBE_PATHS, success_answer
from captive_portal.settings import PortalMode, PortalSettings

EXTENSION = "borne_portal"
LANGUAGE_COOKIE_AGE_S = 365 * 86400
# Pages carry their CSS inline and their pictograms as inline SVG: nothing else may load but
# the page's own recording (its "Listen" player), from the portal itself. Still no script.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; media-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
AUDIO_PATH = "/audio/"
AUDIO_CACHE_S = 86400  # recordings change only when the portal is reinstalled
_HOST = re.compile(
    r"(?P<name>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?"
    r"|\[[0-9a-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?",
    re.IGNORECASE,
)
API_PATH = "/api/captive"
WINDOWS_SIGN_IN_PATH = "/redirect"  # www.msftconnecttest.com/redirect opens the sign-in page


@dataclasses.dataclass(frozen=True)
class PortalContext:
    """What the views need, attached to the app (``app.extensions``), never to a module."""

    admission: Admission
    catalogues: i18n.Catalogues
    own_hosts: frozenset[str]
    splash_url: str
    user_portal_url: str
    audio_dir: Path
    recordings: Mapping[tuple[str, str], str]  # (page, language) -> file in audio_dir


def portal() -> PortalContext:
    context: PortalContext = current_app.extensions[EXTENSION]
    return context


def make_context(settings: PortalSettings, admission: Admission) -> PortalContext:
    gateway = settings.gateway_address
    own = {settings.hostname.lower().rstrip("."), gateway, f"[{gateway}]"}
    if settings.listen_address:
        own.add(settings.listen_address)
    if settings.gateway_address6 and not settings.listen_address:
        own.add(f"[{settings.gateway_address6}]")  # it listens there too (listen_addresses)
    if settings.tls_cert is not None:
        user_portal_url = _url("https", settings.hostname, settings.https_port, 443)
    else:  # a preview without TLS: the only portal URL that works (RFC 8908 wants HTTPS)
        user_portal_url = _url("http", gateway, settings.http_port, 80)
    return PortalContext(
        admission=admission,
        catalogues=i18n.Catalogues.load(),
        own_hosts=frozenset(own),
        splash_url=_url("http", gateway, settings.http_port, 80),
        user_portal_url=user_portal_url,
        audio_dir=settings.audio_dir,
        recordings=audio.find_recordings(settings.audio_dir),
    )


def _url(scheme: str, host: str, port: int, default_port: int) -> str:
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{scheme}://{host}/" if port == default_port else f"{scheme}://{host}:{port}/"


def register_views(app: Flask) -> None:
    app.before_request(_check_request)
    app.after_request(_secure_headers)
    app.register_error_handler(HTTPException, _problem_page)
    app.register_error_handler(Exception, _server_error)

    app.add_url_rule("/", "splash", splash, methods=["GET"])
    app.add_url_rule("/connect", "connect", connect, methods=["POST"])
    app.add_url_rule("/online", "online", online, methods=["GET"])
    app.add_url_rule(f"{AUDIO_PATH}<name>", "recording", recording, methods=["GET"])
    app.add_url_rule(API_PATH, "captive_api", captive_api, methods=["GET"])
    app.add_url_rule(WINDOWS_SIGN_IN_PATH, "windows_sign_in", to_splash, methods=["GET"])
    for path in sorted(PROBE_PATHS):
        app.add_url_rule(path, f"probe{path}", probe, methods=["GET"])


# --- every request -----------------------------------------------------------------------------


def _check_request() -> Response | None:
    """Refuse malformed requests; send foreign hosts to the splash page; pick the language."""
    host = request.headers.get("Host", "")
    match = _HOST.fullmatch(host) if host else None
    if host and (match is None or int(match["port"] or 80) > 65535):
        raise BadRequest("malformed Host header")
    g.client = _client_address()
    g.language = _language()
    ours = match is None or match["name"].lower().rstrip(".") in portal().own_hosts
    if not ours and request.path not in PROBE_PATHS and request.path != API_PATH:
        return to_splash()
    return None


def _client_address() -> ClientAddress:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError as exc:
        raise BadRequest("no client address") from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket: the client is really IPv4
    return address


def _language() -> i18n.Language:
    try:
        return i18n.choose_language(
            request.args.get("lang"),
            request.cookies.get(i18n.LANGUAGE_COOKIE),
            request.accept_languages.best_match,
            current_app.config["PORTAL_DEFAULT_LANGUAGE"],
        )
    except i18n.UnknownLanguage:
        g.language = _fallback_language()
        raise BadRequest("unknown language") from None


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")  # a portal page is never cached
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    language = g.get("language")
    if language is not None:
        response.headers["Content-Language"] = language.code
        if request.args.get("lang") == language.code:  # chosen on the switch: remember it
            response.set_cookie(
                i18n.LANGUAGE_COOKIE,
                language.code,
                max_age=LANGUAGE_COOKIE_AGE_S,
                httponly=True,
                samesite="Lax",
            )
    return response


# --- pages -------------------------------------------------------------------------------------


def splash() -> Response | str:
    admission = portal().admission
    remaining = admission.remaining(g.client)
    if remaining is not None:  # back once online: until when, and nothing to tap
        return _online_page(remaining, returning=True)
    if admission.mode == PortalMode.CLOSED:
        return _closed_page()
    return _splash_page(admission.mode == PortalMode.CODE)


def connect() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    if request.form.get("accept") != "1":
        raise BadRequest("the form must say accept=1")
    typed = request.form.get("code")
    result = portal().admission.connect(g.client, typed)
    code_mode = portal().admission.mode == PortalMode.CODE
    match result.outcome:
        case ConnectOutcome.GRANTED:
            return redirect("/online", code=303)
        case ConnectOutcome.CLOSED:
            return _closed_page(), 403
        case ConnectOutcome.RATE_LIMITED:
            headers = {"Retry-After": str(result.retry_after)}
            return _page("problem.html", problem="rate_limited"), 429, headers
        case ConnectOutcome.FULL:
            headers = {"Retry-After": str(result.retry_after)}
            return _page("problem.html", problem="full"), 503, headers
        case ConnectOutcome.MISSING_CODE:
            return _splash_page(code_mode, code_error="missing"), 400
        case ConnectOutcome.WRONG_CODE:
            # What was typed stays in the field, to check or correct: it is a code the desk
            # reads aloud to anyone, not a password.
            typed = (typed or "")[:MAX_CODE_INPUT]
            return _splash_page(code_mode, code_error="wrong", typed=typed), 403


def online() -> Response | str:
    remaining = portal().admission.remaining(g.client)
    if remaining is None:
        return redirect("/", code=303)
    return _online_page(remaining)


def recording(name: str) -> Response:
    """A page read aloud (:mod:`captive_portal.audio`): only the files found at start."""
    context = portal()
    if name not in context.recordings.values():
        raise NotFound()
    return send_from_directory(
        context.audio_dir, name, mimetype=audio.MEDIA_TYPE, max_age=AUDIO_CACHE_S
    )


def to_splash() -> Response:
    return redirect(portal().splash_url, code=302)


def probe() -> Response:
    """Before the tap, send the OS to the splash page; after it, the OS's own success answer."""
    if portal().admission.remaining(g.client) is None:
        response = to_splash()
    else:
        answer = success_answer(request.path)
        response = Response(answer.body, status=answer.status, content_type=answer.content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def captive_api() -> Response:
    context = portal()
    admission = context.admission
    status = captive_status(
        remaining=admission.remaining(g.client), user_portal_url=context.user_portal_url
    )
    response = current_app.json.response(status)
    response.content_type = MEDIA_TYPE
    response.headers["Cache-Control"] = "private"  # RFC 8908 §5: about this client only
    return response


# --- rendering ---------------------------------------------------------------------------------


def _splash_page(code_mode: bool, **context: Any) -> str:
    return _page(
        "splash.html",
        code_mode=code_mode,
        listen=_listen("code" if code_mode else "splash"),
        splash_address=portal().splash_url,
        **context,
    )


def _online_page(remaining: int, *, returning: bool = False) -> str:
    admission = portal().admission
    until = admission.schedule.local(admission.clock() + timedelta(seconds=remaining))
    return _page(
        "online.html",
        until=i18n.format_clock(until, g.language.code),
        duration=i18n.format_duration(remaining, g.language.code),
        returning=returning,
    )


def _listen(page: str) -> str | None:
    """The URL of ``page``'s recording in the request's language, if it was recorded."""
    name = portal().recordings.get((page, g.language.code))
    return f"{AUDIO_PATH}{name}" if name else None


def _closed_page() -> str:
    admission = portal().admission
    opening = admission.next_opening()
    code = g.language.code
    when: dict[str, Any] = {"opening": None}
    if opening is not None:
        local = admission.schedule.local(opening)
        today = admission.schedule.local(admission.clock()).date()
        when = {
            "opening": "today"
            if local.date() == today
            else "tomorrow"
            if local.date() == today + timedelta(days=1)
            else "later",
            "day": i18n.format_day(local, code),
            "time": i18n.format_clock(local, code),
        }
    return _page(
        "closed.html",
        listen=_listen("closed"),
        nearby=_nearby_places(),
        places_url=admission.settings.places_url,
        **when,
    )


def _nearby_places() -> list[dict[str, Any]]:
    """The nearby public places open now or next, in the resident's words."""
    admission = portal().admission
    settings = admission.settings
    now = admission.clock()
    code = g.language.code
    shown = []
    for state in nearby.open_or_next(
        settings.nearby_places, now, settings.timezone, settings.country_code
    ):
        moment = state.until or state.opens
        local = admission.schedule.local(moment) if moment is not None else None
        shown.append(
            {
                "name": state.place.name,
                "address": state.place.address,
                "open": state.open,
                "day": i18n.format_day(local, code) if local is not None else "",
                "time": i18n.format_clock(local, code) if local is not None else "",
                "today": local is not None and local.date() == admission.schedule.local(now).date(),
                "km": state.place.distance_m >= 1000,
                "distance": _distance(state.place.distance_m, code),
            }
        )
    return shown


def _distance(metres: int, code: str) -> str:
    """``350`` (metres) or ``1.2`` (kilometres, from 1000 m), as the language writes numbers."""
    value: float = round(metres / 1000, 1) if metres >= 1000 else round(metres, -1)
    return format_decimal(value, locale=code.replace("-", "_"))


def _page(template: str, **context: Any) -> str:
    language: i18n.Language = g.get("language") or i18n.BY_CODE["fr"]
    settings = portal().admission.settings
    return render_template(
        template,
        _=portal().catalogues.gettext_for(language.code),
        language=language,
        languages=i18n.LANGUAGES,
        switch_path=request.path if request.method == "GET" else "/",
        ssid=settings.ssid,
        session=i18n.format_duration(settings.session_s, language.code),
        **context,
    )


_PROBLEMS = {404: "not_found", 429: "rate_limited", 503: "full"}


def _problem_page(error: HTTPException) -> tuple[str, int] | Response:
    if error.code is None or error.code < 400:
        return error.get_response()
    if request.path == API_PATH or request.path in PROBE_PATHS:
        return Response(error.description or "", status=error.code, content_type="text/plain")
    code = error.code
    problem = _PROBLEMS.get(code, "server_error" if code >= 500 else "bad_request")
    if g.get("language") is None:
        g.language = _fallback_language()
    return _page("problem.html", problem=problem), code


def _server_error(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("unexpected error", exc_info=error)
    if g.get("language") is None:
        g.language = _fallback_language()
    return _page("problem.html", problem="server_error"), 500


def _fallback_language() -> i18n.Language:
    """A language for an error page when the request's own choice failed."""
    best = request.accept_languages.best_match([lang.code for lang in i18n.LANGUAGES])
    return i18n.BY_CODE.get(best or "", i18n.BY_CODE["fr"])

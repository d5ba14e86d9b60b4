"""What a resident sees on a public PC a technician took out of service: LightDM's login screen
saying so, in the site's language, instead of a desktop.

Out of service, the guest login is refused (:mod:`agent.pc.login`): LightDM's automatic login
fails and LightDM shows its greeter. On Debian's LightDM desktops (Xfce, MATE, LXQt) that is
lightdm-gtk-greeter, which reads its settings at start from
``/etc/lightdm/lightdm-gtk-greeter.conf.d/*.conf`` after Debian's own. So, while the PC is out of
service, :class:`GreeterNotice` writes there a drop-in whose ``background`` is a picture of the
notice (an SVG, rendered by librsvg's image loader: Debian's own greeter background is an SVG
too) and that moves the login box to the bottom of the screen, out of the notice's way. What
the resident reads, over the whole screen: a "no entry" pictogram, "This computer is out of
service" in the site's language in large type, what to do (another computer, the front desk),
and the first line in the other languages below, smaller.

The greeter reads its settings only when it starts, and LightDM tries an automatic login only
when the seat starts (or, with ``autologin-user-timeout`` above 0, once per greeter): a refused
one is not tried again when the account opens. Going out of service ends the guest's session (a
reset), so LightDM starts a new greeter, which shows the notice. When no session is running
(the greeter is already on screen: the wipe had locked the login), and when the PC returns to
service, LightDM itself is restarted (``systemctl restart display-manager.service``, Debian's
name for the installed display manager), so that its greeter shows the notice, or it logs the
guest in again; never while someone's session is running (a technician at the PC): LightDM does
it when that session ends. Checked with Debian 12's LightDM 1.26 and lightdm-gtk-greeter 2.0.8.

Another greeter (slick-greeter, GDM's) ignores the drop-in: the login is still refused, but the
screen shows that greeter's usual login box.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

from agent.actions import Outcome, SystemScreen, run_tool
from agent.pc.sessions import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)

LIGHTDM_DIR = Path("etc/lightdm")
GTK_GREETER_DROP_IN = LIGHTDM_DIR / "lightdm-gtk-greeter.conf.d" / "90-borne-out-of-service.conf"
# Beside the greeter's settings, readable by the greeter's own user (not the agent's 0700 state).
NOTICE_PICTURE = LIGHTDM_DIR / "borne-out-of-service.svg"
RESTART_DISPLAY_MANAGER = ("systemctl", "restart", "display-manager.service")

# The notice, in the site's language (French unless the controller says otherwise); a language
# missing here falls back to French. Short sentences: many residents read little.
NOTICES: dict[str, tuple[str, str]] = {
    "fr": (
        "Ce poste est hors service",
        "Un technicien va le réparer. Utilisez un autre poste, ou demandez de l'aide à l'accueil.",
    ),
    "en": (
        "This computer is out of service",
        "A technician will repair it. Please use another computer, or ask for help at the "
        "front desk.",
    ),
    "es": (
        "Este ordenador está fuera de servicio",
        "Un técnico lo va a reparar. Use otro ordenador o pida ayuda en la recepción.",
    ),
    "pt": (
        "Este computador está fora de serviço",
        "Um técnico vai repará-lo. Use outro computador ou peça ajuda na receção.",
    ),
    # RUF001: Turkish writes the dotless i, a letter of its own there, not a look-alike.
    "tr": (
        "Bu bilgisayar hizmet dışı",  # noqa: RUF001
        "Bir teknisyen onu onaracak. Başka bir bilgisayar kullanın "  # noqa: RUF001
        "veya danışmadan yardım isteyin.",  # noqa: RUF001
    ),
    "ar": (
        "هذا الحاسوب خارج الخدمة",
        "سيصلحه أحد الفنيين. استخدم حاسوبًا آخر، أو اطلب المساعدة من مكتب الاستقبال.",
    ),
}
RIGHT_TO_LEFT = frozenset({"ar"})


def notice_lines(language: str) -> tuple[str, str]:
    """The notice's headline and what to do, in ``language`` (French when it has none)."""
    return NOTICES.get(language, NOTICES[DEFAULT_LANGUAGE])


def notice_svg(language: str) -> str:
    """The notice as a 1920 x 1080 picture: pictogram, headline and advice in ``language``, then
    the headline in the other languages. Dark blue and white: a contrast above 12:1.

    Everything stays in the top 70 %: the greeter scales the picture to cover the screen (4:3
    screens lose the sides, never the height) and puts its login box in the bottom quarter.
    """
    language = language if language in NOTICES else DEFAULT_LANGUAGE
    headline, advice = NOTICES[language]
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="1920" height="1080" '
        'viewBox="0 0 1920 1080" font-family="DejaVu Sans, sans-serif">',
        '<rect width="1920" height="1080" fill="#0b2545"/>',
        # "No entry": a red disc with a white bar, understood without reading.
        '<circle cx="960" cy="150" r="95" fill="#d62828" stroke="#ffffff" stroke-width="9"/>',
        '<rect x="895" y="131" width="130" height="38" rx="6" fill="#ffffff"/>',
        _text(language, headline, y=340, size=76, weight="bold"),
    ]
    for number, line in enumerate(textwrap.wrap(advice, 52)):
        parts.append(_text(language, line, y=430 + number * 58, size=44))
    others = [code for code in NOTICES if code != language]
    for number, code in enumerate(others):
        parts.append(_text(code, NOTICES[code][0], y=580 + number * 38, size=30, fill="#cfd8e3"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _text(
    language: str,
    text: str,
    *,
    y: int,
    size: int,
    weight: str = "normal",
    fill: str = "#ffffff",
) -> str:
    direction = ' direction="rtl"' if language in RIGHT_TO_LEFT else ""
    return (
        f'<text x="960" y="{y}" text-anchor="middle" font-size="{size}" font-weight="{weight}" '
        f"fill={quoteattr(fill)} xml:lang={quoteattr(language)}{direction}>{escape(text)}</text>"
    )


class ServiceNotice(Protocol):
    """Where a public PC tells residents it is out of service."""

    def show(self, language: str) -> str:
        """Put the notice up in ``language``; return what was done, for the command's output."""
        ...

    def remove(self) -> str:
        """Take the notice down; return what was done."""
        ...

    def shown(self) -> bool: ...

    def refresh(self) -> str:
        """Have the screen show the notice (or the guest's desktop again) now, when no session
        is running; return what was done."""
        ...


class GreeterNotice:
    """The notice on LightDM's GTK greeter (see the module's docstring)."""

    def __init__(
        self,
        root: Path = Path("/"),
        *,
        sessions: Callable[[], Sequence[object]] | None = None,
        restart: Callable[[], Outcome] | None = None,
    ) -> None:
        """``sessions``: the graphical sessions running (logind's); ``restart``: restarts the
        display manager. Both the system's unless given (tests)."""
        self.root = Path(root)
        self.drop_in = self.root / GTK_GREETER_DROP_IN
        self.picture = self.root / NOTICE_PICTURE
        self._sessions = sessions or SystemScreen().graphical_sessions
        self._restart = restart or (lambda: run_tool(RESTART_DISPLAY_MANAGER))

    def show(self, language: str) -> str:
        if not (self.root / LIGHTDM_DIR).is_dir():
            return "no LightDM on this PC: the login is refused, without a notice on screen"
        language = language if language in NOTICES else DEFAULT_LANGUAGE
        self.picture.write_text(notice_svg(language), encoding="utf-8")
        self.picture.chmod(0o644)  # the greeter runs as LightDM's own user
        self.drop_in.parent.mkdir(parents=True, exist_ok=True)
        self.drop_in.write_text(
            "# Written by the borne agent while this PC is out of service, removed when it\n"
            "# returns to service: the notice fills the screen, the login box waits below.\n"
            f"[greeter]\nbackground={Path('/') / NOTICE_PICTURE}\nuser-background=false\n"
            "hide-user-image=true\nposition=50%,center 96%,end\n",
            encoding="utf-8",
        )
        self.drop_in.chmod(0o644)
        return f"the login screen shows the out-of-service notice ({language})"

    def remove(self) -> str:
        if not self.shown():
            return "no out-of-service notice to remove"
        self.drop_in.unlink(missing_ok=True)
        self.picture.unlink(missing_ok=True)
        return "the out-of-service notice is removed from the login screen"

    def shown(self) -> bool:
        return self.drop_in.exists()

    def refresh(self) -> str:
        if not (self.root / LIGHTDM_DIR).is_dir():
            return ""
        if self._sessions():
            return "a session is running: the login screen changes when it ends"
        restarted = self._restart()
        if not restarted.ok:
            log.warning("restarting the display manager failed: %s", restarted.output)
            return f"the display manager did not restart: {restarted.output.strip()}"
        return "restarted the display manager"


class MemoryNotice:
    """The demo's and unit tests' notice: remembers what it shows, acts nothing out."""

    def __init__(self) -> None:
        self.language: str | None = None
        self.refreshed = 0

    def show(self, language: str) -> str:
        self.language = language
        return f"simulated: the login screen shows the out-of-service notice ({language})"

    def remove(self) -> str:
        self.language = None
        return "simulated: the out-of-service notice is removed from the login screen"

    def shown(self) -> bool:
        return self.language is not None

    def refresh(self) -> str:
        self.refreshed += 1
        return "simulated: restarted the display manager"

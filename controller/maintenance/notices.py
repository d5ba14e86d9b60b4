"""The e-mails tickets send: to the team on a new ticket, to the reporter when it is solved.

Each is queued in the outbox (:mod:`controller.maintenance.mail`) in the transaction of the
event it tells, under a key naming that event: one mail per event, whatever refreshes, retries
or processes. Written in the recipient's language (a team's: French, the city's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from flask_babel import force_locale
from sqlalchemy.orm import Session

from controller.context import settings_of
from controller.i18n import DEFAULT_LANGUAGE, _
from controller.maintenance.models import Ticket, TicketEvent
from controller.maintenance.words import CATEGORY_WORDS, PRIORITY_WORDS


@contextmanager
def _language(code: str | None) -> Iterator[None]:
    if has_app_context():
        with force_locale(code or DEFAULT_LANGUAGE):
            yield
    else:
        yield


def _link(ticket: Ticket) -> str:
    base = settings_of(current_app).public_url.rstrip("/") if has_app_context() else ""
    return f"{base}/tickets/{ticket.id}" if base else f"/tickets/{ticket.id}"


def ticket_opened(session: Session, ticket: Ticket, event: TicketEvent) -> None:
    """Tell the ticket's team: its address and its members' who gave one."""
    from controller.maintenance import mail

    team = ticket.team
    if team is None:
        return
    recipients = sorted({a for a in [team.email, *(m.email for m in team.members)] if a})
    with _language(DEFAULT_LANGUAGE):
        subject = _(
            "[borne] New ticket %(id)s: %(title)s (%(site)s)",
            id=ticket.id,
            title=ticket.title,
            site=ticket.site.name,
        )
        body = "\n".join(
            [
                _("A new ticket for %(team)s.", team=team.name),
                "",
                _("Where: %(site)s", site=ticket.site.name),
                _("Device: %(device)s", device=ticket.device.name if ticket.device else "-"),
                _("What: %(category)s", category=CATEGORY_WORDS[ticket.category]),
                _("Priority: %(priority)s", priority=PRIORITY_WORDS[ticket.priority]),
                _("Reported by: %(who)s", who=ticket.opened_by),
                "",
                ticket.description,
                "",
                _("To take it: %(link)s", link=_link(ticket)),
            ]
        )
    mail.enqueue(session, f"ticket-event {event.id}", recipients, subject, body)


def ticket_solved(session: Session, ticket: Ticket, event: TicketEvent) -> None:
    """Tell whoever reported the ticket that it is solved, in their language."""
    from controller.maintenance import mail

    reporter = ticket.reporter
    if reporter is None or not reporter.email:
        return
    with _language(reporter.language):
        subject = _("[borne] Solved: ticket %(id)s, %(title)s", id=ticket.id, title=ticket.title)
        lines = [
            _(
                "The problem you reported at %(site)s is solved.",
                site=ticket.site.name,
            ),
            "",
        ]
        if event.text:
            lines += [event.text, ""]
        lines.append(
            _(
                "If it still does not work, reopen the ticket: %(link)s",
                link=_link(ticket),
            )
        )
        body = "\n".join(lines)
    mail.enqueue(session, f"ticket-event {event.id}", [reporter.email], subject, body)

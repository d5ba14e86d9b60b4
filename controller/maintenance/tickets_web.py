"""Tickets on the staff pages: the list, a ticket's page, a mediator's report in three taps, the
out-of-service switch, the maintenance teams' page, and the device page's panel leading there.

Views parse input, call :mod:`controller.maintenance.tickets`, ``teams`` and ``out_of_service``
(which check who may), then render or redirect. A form's bad input comes back in the form with
the reason beside the field and what was typed kept; what the domain refuses comes back as a
message at the top of the same page (a panel's form: in its panel, as the device page does).

The pages follow their tickets live: a committed change (``signals.ticket_changed``) is told to
the browsers of the ticket's site (its ``/live`` room), and ``static/tickets.js`` fetches the page
again and swaps the parts marked ``data-live-part``: never the comment being written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from flask_socketio import SocketIO
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as Redirect  # what redirect() makes
from wtforms import (
    Form,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from controller import access, signals
from controller.access import Action, Role
from controller.accounts import service as users
from controller.accounts.current import signed_in
from controller.accounts.forms import CheckboxList
from controller.accounts.models import User
from controller.commands import service as commands
from controller.commands.delivery import send_now
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError, PermissionDenied
from controller.fleet import service as fleet
from controller.fleet.forms import KIND_LABELS
from controller.fleet.models import Device
from controller.i18n import _, _l
from controller.maintenance import out_of_service, teams, tickets
from controller.maintenance.models import (
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from controller.maintenance.words import CATEGORY_WORDS, PRIORITY_WORDS, STATUS_WORDS
from controller.places import service as places
from controller.places.models import Site
from controller.realtime import emit_to_site, hub_of
from controller.web.pages import NavItem, Page, add_navigation, role_name
from controller.web.panels import Refused, save_form, show_refusal

tickets_web = Blueprint(
    "tickets",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/maintenance",
)

PANEL = "tickets"  # on the device page and the site page
ALL_STATUSES = "all"  # the list's filter: closed tickets too
LIVE_EVENT = "ticket"  # what the browsers of a ticket's site hear: {id, site_id, event}
LIVE_SENDER = "borne.ticket_live_sender"  # app.extensions: the app's receiver, kept alive

# What a mediator taps, in CATEGORY_WORDS' order: everything but what monitoring opens.
REPORTED = [category for category in CATEGORY_WORDS if category is not TicketCategory.ALERT]
# A pictogram beside each word.
CATEGORY_ICONS = {
    TicketCategory.PRINTER: "printer",
    TicketCategory.INPUT: "keyboard",
    TicketCategory.SCREEN: "monitor",
    TicketCategory.WONT_START: "power",
    TicketCategory.NETWORK: "wifi-off",
    TicketCategory.OTHER: "circle-help",
    TicketCategory.ALERT: "circle-alert",
}
# A status by a word, a pictogram and a colour (web/static/app.css), never by colour alone.
STATUS_LOOKS = {
    TicketStatus.NEW: ("circle-dashed", "status-new"),
    TicketStatus.ASSIGNED: ("user-plus", "status-new"),
    TicketStatus.IN_PROGRESS: ("loader", "status-new"),
    TicketStatus.WAITING: ("hourglass", "status-new"),
    TicketStatus.SOLVED: ("circle-check", "status-online"),
    TicketStatus.CLOSED: ("lock", "status-retired"),
}
# The list shows what is to follow first: open tickets, then those solved (the reporter may
# still reopen them), then the closed ones; each by due time.
LIST_ORDER = {
    **dict.fromkeys(tickets.OPEN_STATUSES, 0),
    TicketStatus.SOLVED: 1,
    TicketStatus.CLOSED: 2,
}


@tickets_web.app_context_processor
def ticket_words() -> dict[str, Any]:
    return {
        "STATUS_WORDS": STATUS_WORDS,
        "STATUS_LOOKS": STATUS_LOOKS,
        "PRIORITY_WORDS": PRIORITY_WORDS,
        "CATEGORY_WORDS": CATEGORY_WORDS,
        "CATEGORY_ICONS": CATEGORY_ICONS,
        "ticket_heading": ticket_heading,
    }


# -- forms -----------------------------------------------------------------------------------------


class TicketFilterForm(Form):
    """The list's filters: a GET form that works without JavaScript (no CSRF token: it changes
    nothing). Its choices are the page's to fill."""

    status = SelectField(_l("Which tickets"), default="")
    site = SelectField(_l("Site"), default="")
    team = SelectField(_l("Team"), default="")
    priority = SelectField(_l("Priority"), default="")


class ReportForm(FlaskForm):
    """A problem as a mediator tells it: what (one tap), a few words, send."""

    category = HiddenField()
    description = TextAreaField(
        _l("A few words"),
        validators=[Length(max=tickets.DESCRIPTION_MAX)],
        description=_l("What you saw, what the resident tried. Optional, except for “Other”."),
        render_kw={"rows": 3, "maxlength": tickets.DESCRIPTION_MAX},
    )
    submit = SubmitField(_l("Send"))

    def validate_category(self, field: HiddenField) -> None:
        if field.data not in {category.value for category in REPORTED}:
            raise ValidationError(_("Choose what is wrong."))

    def validate_description(self, field: TextAreaField) -> None:
        if self.category.data == TicketCategory.OTHER and not (field.data or "").strip():
            raise ValidationError(_("Say in a few words what is wrong."))


class CommentForm(FlaskForm):
    text = TextAreaField(
        _l("Your comment"),
        validators=[
            DataRequired(_l("Write something to comment.")),
            Length(max=tickets.COMMENT_MAX),
        ],
        render_kw={"rows": 3, "maxlength": tickets.COMMENT_MAX},
    )
    submit = SubmitField(_l("Add the comment"))


class StatusForm(FlaskForm):
    """One button per status the ticket may go to (``name="to"``)."""

    to = SelectField(choices=[SelectChoice(status.value, status.value) for status in TicketStatus])


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Technician"), coerce=int)
    submit = SubmitField(_l("Assign"))


class OutOfServiceForm(FlaskForm):
    """Take a device out of service (``on`` = "1", with a reason) or return it ("0")."""

    on = HiddenField(validators=[DataRequired()])
    reason = StringField(
        _l("Reason"),
        validators=[Optional(), Length(max=out_of_service.REASON_MAX)],
        description=_l("Residents do not see it; staff do, on this page."),
        render_kw={"maxlength": out_of_service.REASON_MAX, "autocomplete": "off"},
    )

    def validate_on(self, field: HiddenField) -> None:
        if field.data not in ("0", "1"):
            raise ValidationError(_("This form was too old; reload the page and try again."))


class TeamForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(min=2, max=100)],
        render_kw={"autocomplete": "off"},
    )
    email = StringField(
        _l("E-mail address (optional)"),
        validators=[Optional(), Length(max=254)],  # the domain checks the address
        description=_l("Where new tickets are told."),
        render_kw={"autocomplete": "off", "inputmode": "email"},
    )
    organisations = CheckboxList(_l("Organisations served"), coerce=int)
    kinds = CheckboxList(
        _l("Kinds of device"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        description=_l("None ticked: every kind."),
    )
    submit = SubmitField(_l("Create the team"))


class MemberForm(FlaskForm):
    user = SelectField(_l("Technician"), coerce=int)
    submit = SubmitField(_l("Add to the team"))


class RemoveMemberForm(FlaskForm):
    """The button that takes someone off a team (its CSRF token only)."""

    submit = SubmitField(_l("Remove"))


# -- the list --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilter:
    open_only: bool = True
    site_id: int | None = None
    team_id: int | None = None
    priority: TicketPriority | None = None


@tickets_web.get("/tickets")
@login_required
def ticket_list() -> Page:
    session = db_session()
    me = signed_in()
    form = _filter_form(session, me)
    wanted = _wanted(form)
    found = tickets.list_tickets(
        session, me, open_only=wanted.open_only, site_id=wanted.site_id, team_id=wanted.team_id
    )
    if wanted.priority is not None:  # list_tickets has no priority yet: among the 200 shown
        found = [t for t in found if t.priority == wanted.priority]
    now = utcnow()
    return render_template(
        "maintenance/tickets.html",
        tickets=sorted(found, key=_urgency),
        breaches={t.id: tickets.breaches(t, now) for t in found},
        form=form,
        filtered=wanted != TicketFilter(),
        wanted=wanted,
        may_manage_teams=_may_manage_teams(me),
        live_words=live_words(),
    )


def _urgency(ticket: Ticket) -> tuple[int, datetime, int]:
    return LIST_ORDER[TicketStatus(ticket.status)], ticket.solve_due_at, ticket.id


def _filter_form(session: Session, me: User) -> TicketFilterForm:
    form = TicketFilterForm(request.args)
    form.status.choices = [
        SelectChoice("", _("Not closed")),
        SelectChoice(ALL_STATUSES, _("All, closed ones too")),
    ]
    sites = session.scalars(places.visible_sites_query(me).order_by(Site.name)).all()
    form.site.choices = [SelectChoice("", _("All sites"))] + [
        SelectChoice(str(s.id), s.name) for s in sites
    ]
    form.team.choices = [SelectChoice("", _("All teams"))] + [
        SelectChoice(str(team.id), team.name) for team in teams.visible_teams(session, me)
    ]
    form.priority.choices = [SelectChoice("", _("All priorities"))] + [
        SelectChoice(priority.value, label) for priority, label in PRIORITY_WORDS.items()
    ]
    return form


def _wanted(form: TicketFilterForm) -> TicketFilter:
    """What the form asks for; a value it does not offer (an old or edited link) is ignored."""
    form.validate()

    def given(field: Any) -> str:
        return "" if field.errors or field.data is None else str(field.data)

    site, team, priority = given(form.site), given(form.team), given(form.priority)
    return TicketFilter(
        open_only=given(form.status) != ALL_STATUSES,
        site_id=int(site) if site.isdigit() else None,
        team_id=int(team) if team.isdigit() else None,
        priority=TicketPriority(priority) if priority else None,
    )


# -- one ticket ------------------------------------------------------------------------------------


@tickets_web.get("/tickets/<int:ticket_id>")
@login_required
def ticket(ticket_id: int) -> Page:
    return render_ticket(tickets.get_ticket(db_session(), signed_in(), ticket_id))


def render_ticket(
    found: Ticket,
    *,
    comment_form: CommentForm | None = None,
    assign_form: AssignForm | None = None,
    status: int = 200,
) -> Page:
    """The ticket's page; a form that was refused comes back as it was sent."""
    session = db_session()
    me = signed_in()
    may_work = tickets.may_work_on(session, me, found)
    current = TicketStatus(found.status)
    if assign_form is None:
        assign_form = AssignForm(formdata=None)
        assign_form.assignee.data = found.assignee_id
    _assignee_choices(session, assign_form, found)
    return render_template(
        "maintenance/ticket.html",
        ticket=found,
        breaches=tickets.breaches(found, utcnow()),
        history=[event_words(event) for event in found.events],
        moves=[(to, move_words(current, to)) for to in offered_moves(session, me, found)],
        status_form=StatusForm(formdata=None),
        may_assign=may_work and current not in (TicketStatus.SOLVED, TicketStatus.CLOSED),
        assign_form=assign_form,
        comment_form=comment_form or CommentForm(formdata=None),
        may_comment=current is not TicketStatus.CLOSED,
        live_words=live_words(),
    ), status


def _assignee_choices(session: Session, form: AssignForm, found: Ticket) -> None:
    form.assignee.choices = [
        SelectChoice(user.id, _person(user)) for user in tickets.technicians_for(session, found)
    ]


def offered_moves(session: Session, me: User, found: Ticket) -> list[TicketStatus]:
    """The statuses ``me`` may move the ticket to, in the lifecycle's order: every one its
    lifecycle allows for the team's technicians and admins; reopen or close a solved ticket for
    whoever reported it. "Assigned" comes from the assign form while nobody has it."""
    current = TicketStatus(found.status)
    allowed = set(tickets.TRANSITIONS[current])
    if not tickets.may_work_on(session, me, found):
        reported = found.reporter_id == me.id and current is TicketStatus.SOLVED
        allowed = allowed if reported else set()
    if found.assignee_id is None:
        allowed.discard(TicketStatus.ASSIGNED)
    return [status for status in TicketStatus if status in allowed]


def move_words(current: TicketStatus, to: TicketStatus) -> str:
    """A status button's words: what the person does, not the state's name alone."""
    if to is TicketStatus.IN_PROGRESS:
        if current is TicketStatus.SOLVED:
            return _("Reopen: it still does not work")
        if current is TicketStatus.WAITING:
            return _("Back to work")
        return _("Start the repair")
    return {
        TicketStatus.ASSIGNED: _("Back to assigned"),
        TicketStatus.WAITING: _("Waiting (a part, a supplier, the place)"),
        TicketStatus.SOLVED: _("Solved"),
        TicketStatus.CLOSED: _("Close: it works"),
    }[to]


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    sentence: str
    text: str  # what the person wrote (a comment), or what monitoring saw; "" when nothing


def event_words(event: TicketEvent) -> HistoryLine:
    """One step of the ticket's history in the reader's words."""
    who = _("Monitoring") if event.actor == tickets.MONITORING else event.actor
    kind = TicketEventKind(event.kind)
    if kind is TicketEventKind.OPENED:
        sentence = _("%(who)s opened the ticket.", who=who)
    elif kind is TicketEventKind.STATUS:
        sentence = _(
            "%(who)s moved it from %(from)s to %(to)s.",
            who=who,
            **{
                "from": tickets.status_word(event.from_status or TicketStatus.NEW),
                "to": tickets.status_word(event.to_status or TicketStatus.NEW),
            },
        )
    elif kind is TicketEventKind.ASSIGNED:
        return HistoryLine(
            event.at, _("%(who)s gave it to %(user)s.", who=who, user=event.text), ""
        )
    elif kind is TicketEventKind.COMMENT:
        sentence = _("%(who)s wrote:", who=who)
    elif kind is TicketEventKind.ALERT:
        sentence = _("Monitoring saw the problem again.")
    elif kind is TicketEventKind.CAUSE_GONE:
        sentence = _("Monitoring saw the cause go; a person still says whether it is solved.")
    else:
        sentence = _("%(who)s changed the priority.", who=who)
    return HistoryLine(event.at, sentence, event.text)


def ticket_heading(found: Ticket) -> str:
    """What and where, in the reader's language ("Screen: pc-accueil"); the stored title is
    English, written when no reader was there."""
    where = found.device.name if found.device is not None else found.site.name
    return _(
        "%(what)s: %(where)s", what=CATEGORY_WORDS[TicketCategory(found.category)], where=where
    )


def _changing(
    ticket_id: int,
    change: Callable[[Session, User, Ticket], object],
    done: Callable[[Ticket], str],
    *,
    form: FlaskForm,
    again: Callable[[Ticket], Page],
) -> Page | Redirect:
    """Validate ``form``, make the ``change`` and commit, then back to the ticket with ``done``
    said. Bad input: the page again with the form as sent (400); a refusal of the domain: the
    page again with its reason at the top and nothing changed."""
    session = db_session()
    me = signed_in()
    found = tickets.get_ticket(session, me, ticket_id)
    if not form.validate_on_submit():
        return again(found)
    try:
        change(session, me, found)
    except DomainError as exc:
        session.rollback()
        flash(exc.message, "error")
        found = tickets.get_ticket(session, me, ticket_id)
        page = again(found)
        return (page[0], exc.status) if isinstance(page, tuple) else page
    session.commit()
    flash(done(found), "success")
    return redirect(url_for("tickets.ticket", ticket_id=found.id))


def _timezone() -> str:
    return settings_of(current_app).timezone


@tickets_web.post("/tickets/<int:ticket_id>/status")
@login_required
def move(ticket_id: int) -> Page | Redirect:
    form = StatusForm()
    return _changing(
        ticket_id,
        lambda session, me, found: tickets.change_status(
            session, me, found, TicketStatus(form.to.data), timezone=_timezone()
        ),
        lambda found: _("The ticket is now %(status)s.", status=_status_text(found.status)),
        form=form,
        again=_refused_move,
    )


def _status_text(status: str) -> str:
    return tickets.status_word(status).lower()


def _refused_move(found: Ticket) -> Page:
    flash(_("This form was too old; reload the page and try again."), "error")
    return render_ticket(found, status=400)


@tickets_web.post("/tickets/<int:ticket_id>/comments")
@login_required
def comment(ticket_id: int) -> Page | Redirect:
    form = CommentForm()
    return _changing(
        ticket_id,
        lambda session, me, found: tickets.add_comment(session, me, found, form.text.data or ""),
        lambda found: _("Your comment is added."),
        form=form,
        again=lambda found: render_ticket(found, comment_form=form, status=400),
    )


@tickets_web.post("/tickets/<int:ticket_id>/assignee")
@login_required
def assign(ticket_id: int) -> Page | Redirect:
    form = AssignForm()
    session = db_session()
    _assignee_choices(session, form, tickets.get_ticket(session, signed_in(), ticket_id))

    def give(session: Session, me: User, found: Ticket) -> None:
        assignee = session.get(User, form.assignee.data)
        if assignee is None:  # gone since the page was made
            raise DomainError(_("Choose one of the technicians in the list."))
        tickets.assign(session, me, found, assignee)

    return _changing(
        ticket_id,
        give,
        lambda found: _("%(user)s has the ticket now.", user=_person(found.assignee)),
        form=form,
        again=lambda found: render_ticket(found, assign_form=form, status=400),
    )


# -- reporting a problem ---------------------------------------------------------------------------


@tickets_web.route("/devices/<device_id>/report", methods=["GET", "POST"])
@login_required
def report_device(device_id: str) -> Page | Redirect:
    found = fleet.get_device(db_session(), signed_in(), device_id)
    return _report(found.site, found)


@tickets_web.route("/sites/<int:site_id>/report", methods=["GET", "POST"])
@login_required
def report_site(site_id: int) -> Page | Redirect:
    return _report(places.get_site(db_session(), signed_in(), site_id), None)


def _report(site: Site, device: Device | None) -> Page | Redirect:
    """First what is wrong (big buttons: a GET form, so the choice is in the address), then a
    few words and Send; the ticket's page after."""
    session = db_session()
    me = signed_in()
    if not tickets.may_report(me, site):
        raise PermissionDenied(
            _(
                "a manager reads the tickets of %(site)s but does not report problems",
                site=site.name,
            )
            if Role(me.role) is Role.MANAGER
            else _("%(site)s is outside the places you may report problems for", site=site.name)
        )
    form = ReportForm()
    if request.method == "GET":
        form.category.data = request.args.get("category", "")
    if form.validate_on_submit():
        try:
            opened = tickets.open_ticket(
                session,
                me,
                site=site,
                device=device,
                category=TicketCategory(form.category.data),
                description=form.description.data or "",
                timezone=_timezone(),
            )
        except DomainError as exc:
            session.rollback()
            flash(exc.message, "error")
            return _report_page(site, device, form, exc.status)
        session.commit()
        flash(_sent_words(opened), "success")
        return redirect(url_for("tickets.ticket", ticket_id=opened.id))
    return _report_page(site, device, form, 400 if request.method == "POST" else 200)


def _report_page(site: Site, device: Device | None, form: ReportForm, status: int) -> Page:
    chosen = form.category.data if form.category.data in set(REPORTED) else None
    if chosen == TicketCategory.OTHER:
        form.description.render_kw = {**(form.description.render_kw or {}), "required": True}
    return render_template(
        "maintenance/report.html",
        site=site,
        device=device,
        form=form,
        chosen=TicketCategory(chosen) if chosen else None,
        categories=REPORTED,
        here=request.path,
    ), status


def _sent_words(opened: Ticket) -> str:
    if opened.team is None:
        return _(
            "Problem reported (ticket %(id)s). No team serves this place yet: city IT sees it.",
            id=opened.id,
        )
    return _(
        "Problem reported (ticket %(id)s): %(team)s has it. Follow it on this page.",
        id=opened.id,
        team=opened.team.name,
    )


# -- out of service --------------------------------------------------------------------------------


@tickets_web.post("/devices/<device_id>/out-of-service")
@login_required
def switch_service(device_id: str) -> Page | Redirect:
    session = db_session()
    me = signed_in()
    found = fleet.get_device(session, me, device_id)
    form = OutOfServiceForm()
    outcome = save_form(
        PANEL,
        form,
        lambda: out_of_service.set_out_of_service(
            session, me, found, form.on.data == "1", form.reason.data or ""
        ),
    )
    if isinstance(outcome, Refused):
        return show_refusal("device", found, outcome)
    # The setting goes to the device's agent now (set_out_of_service stored it to push): what
    # it has pending, pushed again, is executed once (agents remember what they ran).
    send_now(commands.pending_for(session, found.id))
    if found.out_of_service_since is not None:
        flash(_("%(device)s is out of service.", device=found.name), "success")
    else:
        flash(_("%(device)s is back in service.", device=found.name), "success")
    return redirect(url_for("fleet.device", device_id=found.id, _anchor="tickets"))


# -- the device page's panel -----------------------------------------------------------------------


def device_tickets_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """The device's tickets not closed yet, "Report a problem" for mediators, technicians and
    admins, and whether it is out of service, with the switch for technicians and admins."""
    session = db_session()
    me = signed_in()
    listed = tickets.list_tickets(session, me, device_id=found.id)
    in_use = found.retired_at is None
    may_report = in_use and tickets.may_report(me, found.site)
    may_switch = in_use and out_of_service.may_switch(me, found)
    if not (listed or may_report or may_switch or found.out_of_service_since):
        return None
    mine = refused.form if refused is not None else None
    return {
        "device": found,
        "site": found.site,
        "tickets": sorted(listed, key=_urgency),
        "breaches": {t.id: tickets.breaches(t, utcnow()) for t in listed},
        "may_report": may_report,
        "may_switch": may_switch,
        "service_form": mine
        if isinstance(mine, OutOfServiceForm)
        else OutOfServiceForm(formdata=None),
        "refused": refused,
        "agent_says": out_of_service.reported_out_of_service(found),
    }


def site_tickets_panel(found: Site, refused: Refused | None) -> dict[str, Any] | None:
    """The site's tickets not closed yet and "Report a problem" about the place itself."""
    me = signed_in()
    listed = tickets.list_tickets(db_session(), me, site_id=found.id)
    may_report = tickets.may_report(me, found)
    if not (listed or may_report):
        return None
    return {
        "site": found,
        "device": None,
        "tickets": sorted(listed, key=_urgency),
        "breaches": {t.id: tickets.breaches(t, utcnow()) for t in listed},
        "may_report": may_report,
    }


# -- teams -----------------------------------------------------------------------------------------


def _may_manage_teams(me: User) -> bool:
    return access.can(me, Action.MANAGE_USERS)


@tickets_web.route("/teams", methods=["GET", "POST"])
@login_required
def team_list() -> Page | Redirect:
    session = db_session()
    me = signed_in()
    people = users.list_users(session, me)  # refuses anyone who may not manage users
    form = _team_form(session, me)
    if form.validate_on_submit():
        try:
            created = teams.create_team(
                session,
                me,
                name=form.name.data or "",
                email=form.email.data or "",
                organisations=form.organisations.data or [],
                kinds=form.kinds.data or [],
            )
        except DomainError as exc:
            session.rollback()
            flash(exc.message, "error")
            return _teams_page(session, people, form, status=exc.status)
        session.commit()
        flash(_("The team %(team)s is created.", team=created.name), "success")
        return redirect(url_for("tickets.team_list", _anchor=f"team-{created.id}"))
    return _teams_page(session, people, form, status=400 if request.method == "POST" else 200)


def _team_form(session: Session, me: User) -> TeamForm:
    form = TeamForm()
    organisations, _sites = users.scope_choices(session, me)
    form.organisations.choices = [SelectChoice(o.id, o.name) for o in organisations]
    return form


def _teams_page(
    session: Session,
    people: list[User],
    form: TeamForm,
    *,
    member_form: tuple[int, MemberForm] | None = None,
    status: int = 200,
) -> Page:
    """The teams, each with its members and the form adding one; ``member_form``: a team's
    form refused, shown again under that team."""
    technicians = [
        user for user in people if user.active and Role(user.role) in (Role.TECHNICIAN, Role.ADMIN)
    ]
    listed = teams.list_teams(session)
    member_forms = {}
    for team in listed:
        if member_form is not None and member_form[0] == team.id:
            adding = member_form[1]
        else:
            adding = MemberForm(formdata=None)
        adding.user.choices = [
            SelectChoice(user.id, _person(user)) for user in technicians if user not in team.members
        ]
        member_forms[team.id] = adding
    return render_template(
        "maintenance/teams.html",
        teams=listed,
        form=form,
        member_forms=member_forms,
        remove_form=RemoveMemberForm(formdata=None),
        kind_words=KIND_LABELS,
        person=_person,
    ), status


def _person(user: User | None) -> str:
    """Someone as a list names them: "Camille Martin (Technicien·ne)"."""
    if user is None:
        return ""
    return f"{user.full_name or user.username} ({role_name(user.role)})"


@tickets_web.post("/teams/<int:team_id>/members")
@login_required
def add_member(team_id: int) -> Page | Redirect:
    session = db_session()
    me = signed_in()
    people = users.list_users(session, me)  # refuses anyone who may not manage users
    team = teams.find_team(session, team_id)
    form = MemberForm()
    form.user.choices = [SelectChoice(user.id, _person(user)) for user in people]
    if form.validate_on_submit():
        try:
            teams.add_member(session, me, team, users.get_user(session, me, form.user.data or 0))
        except DomainError as exc:
            session.rollback()
            flash(exc.message, "error")
            return _teams_page(
                session,
                people,
                _team_form(session, me),
                member_form=(team.id, form),
                status=exc.status,
            )
        session.commit()
        flash(_("%(team)s has a new member.", team=team.name), "success")
        return redirect(url_for("tickets.team_list", _anchor=f"team-{team.id}"))
    flash(_("Choose one of the technicians in the list."), "error")
    return _teams_page(
        session, people, _team_form(session, me), member_form=(team.id, form), status=400
    )


@tickets_web.post("/teams/<int:team_id>/members/<int:user_id>/remove")
@login_required
def remove_member(team_id: int, user_id: int) -> Redirect:
    session = db_session()
    me = signed_in()
    users.list_users(session, me)  # refuses anyone who may not manage users
    if not RemoveMemberForm().validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    team = teams.find_team(session, team_id)
    member = users.get_user(session, me, user_id)
    teams.remove_member(session, me, team, member)
    session.commit()
    flash(_("%(user)s is no longer in %(team)s.", user=member.username, team=team.name), "success")
    return redirect(url_for("tickets.team_list", _anchor=f"team-{team.id}"))


# -- live pages ------------------------------------------------------------------------------------


def live_words() -> dict[str, str]:
    """The words static/tickets.js writes, in the reader's language."""
    return {
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "not_connected": _("Not connected, retrying…"),
        "live_unavailable": _("Live updates unavailable"),
        "updated": _("Updated: the page shows the latest changes."),
    }


def ticket_changes_sender(hub: SocketIO) -> Callable[..., None]:
    """A receiver of ``signals.ticket_changed`` telling the live pages of the ticket's site."""

    def send(ticket_id: str, *, site_id: int, event: str, **_ignored: Any) -> None:
        data = {"id": int(ticket_id), "site_id": site_id, "event": event}
        emit_to_site(hub, LIVE_EVENT, data, site_id)

    return send


def init_tickets_web(app: Flask) -> None:
    """The tickets' pages, their entry in the navigation, and their live updates."""
    app.register_blueprint(tickets_web)
    add_navigation(
        app,
        NavItem(
            "tickets.ticket_list",
            _l("Tickets"),
            "ticket",
            Action.VIEW_FLEET,
            15,
            ("tickets.ticket", "tickets.report_device", "tickets.report_site", "tickets.team_list"),
        ),
    )
    # Blinker holds its receivers weakly: the app keeps its own alive, and it goes with the app.
    sender = ticket_changes_sender(hub_of(app))
    app.extensions[LIVE_SENDER] = sender
    signals.ticket_changed.connect(sender)

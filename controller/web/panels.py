"""Object pages built from panels: the site page and the device page are made of sections that
each domain contributes (NetBox builds its object pages the same way), so that a new capability
adds its panel without touching another domain's code.

A panel is a template fragment and a function giving its context for one object (None: the
panel has nothing to show for it, say the Wifi portal on a PC). A panel's form posts to its own
domain's view; when the domain refuses the change, :func:`show_refusal` renders the whole page
again with that panel's form as it was sent and the reason beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, current_app, get_template_attribute, render_template
from flask_wtf import FlaskForm
from markupsafe import Markup

from controller.context import db_session
from controller.errors import DomainError

T = TypeVar("T")

PANELS = "borne.panels"
PAGES = "borne.object_pages"


@dataclass(frozen=True)
class Refused:
    """A panel's form the domain refused: shown again in place, with the reason."""

    panel: str
    form: Any
    message: str
    status: int


# (the page's object, the refused form if it is this panel's) -> the template's context
PanelContext = Callable[[Any, Refused | None], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    name: str  # unique on its page
    template: str  # "<domain>/…html", rendered with ``obj`` and the context
    context: PanelContext
    order: int  # place on the page, smaller first


def add_panel(app: Flask, page: str, panel: Panel) -> None:
    """Add ``panel`` to the object page ``page`` ("site", "device") of ``app``."""
    panels: list[Panel] = app.extensions.setdefault(PANELS, {}).setdefault(page, [])
    if any(p.name == panel.name for p in panels):
        raise ValueError(f"the {page} page already has a panel named {panel.name!r}")
    panels.append(panel)
    panels.sort(key=lambda p: p.order)


def render_panels(page: str, obj: Any, refused: Refused | None = None) -> list[Markup]:
    """Every panel of ``page`` that has something to show for ``obj``, in order."""
    rendered = []
    for panel in current_app.extensions.get(PANELS, {}).get(page, []):
        mine = refused if refused is not None and refused.panel == panel.name else None
        context = panel.context(obj, mine)
        if context is not None:
            rendered.append(render_fragment(panel.template, obj=obj, **context))
    return rendered


def add_object_page(app: Flask, page: str, render: Callable[[Any, Refused | None], str]) -> None:
    """Say how ``page`` renders one object, refusal included (its domain's view)."""
    app.extensions.setdefault(PAGES, {})[page] = render


def show_refusal(page: str, obj: Any, refused: Refused) -> tuple[str, int]:
    """The page of ``obj`` again, with the refused panel's form and message in place."""
    render: Callable[[Any, Refused | None], str] = current_app.extensions[PAGES][page]
    return render(obj, refused), refused.status


@dataclass
class RowExtras:
    """What domains add to the rows of a list (the devices of a site), by row id: notes under
    each row's name, and one column of actions. Each domain returns one; the list shows them
    merged."""

    notes: dict[str, list[Markup]] = field(default_factory=dict)
    action_heading: str = ""  # empty: no action column
    actions: dict[str, Markup] = field(default_factory=dict)

    def add(self, other: RowExtras) -> None:
        for row_id, notes in other.notes.items():
            self.notes.setdefault(row_id, []).extend(notes)
        if other.action_heading:
            self.action_heading = " · ".join(
                filter(None, [self.action_heading, other.action_heading])
            )
            for row_id, action in other.actions.items():
                self.actions[row_id] = self.actions.get(row_id, Markup()) + action


# (the list's owner, its rows) -> this domain's notes and actions, or None
RowContribution = Callable[[Any, Sequence[Any]], RowExtras | None]
ROW_EXTRAS = "borne.row_extras"


def add_row_extra(app: Flask, table: str, contribution: RowContribution) -> None:
    """Let a domain add notes or actions to the rows of ``table`` ("site_devices")."""
    app.extensions.setdefault(ROW_EXTRAS, {}).setdefault(table, []).append(contribution)


def row_extras(table: str, owner: Any, rows: Sequence[Any]) -> RowExtras:
    """Every domain's notes and actions for ``rows`` of ``table``, merged."""
    merged = RowExtras()
    for contribution in current_app.extensions.get(ROW_EXTRAS, {}).get(table, []):
        extra = contribution(owner, rows)
        if extra is not None:
            merged.add(extra)
    return merged


def row_macro(template: str, name: str) -> Callable[..., Markup]:
    """A macro of ``template`` to render one row's note or action: a list of hundreds of rows
    renders it that many times, without the page's context processors each time."""
    macro: Callable[..., Markup] = get_template_attribute(template, name)
    return macro


def render_fragment(template: str, **context: Any) -> Markup:
    """A template fragment (a panel) to insert into a page."""
    return Markup(render_template(template, **context))  # noqa: S704 (autoescaped by Jinja)


def save_form(
    panel: str, form: FlaskForm, change: Callable[[], T], *, invalid: str = ""
) -> T | Refused:
    """Validate ``form``, make the ``change`` (a domain call) and commit. What the form or the
    domain objects to comes back as ``panel``'s :class:`Refused`, and nothing is stored.

    ``invalid``: one sentence for any invalid input, instead of the fields' own messages."""
    if not form.validate():
        problems = invalid or " ".join(str(e) for errors in form.errors.values() for e in errors)
        return Refused(panel, form, problems, 400)
    session = db_session()
    try:
        result = change()
    except DomainError as exc:
        session.rollback()
        return Refused(panel, form, exc.message, exc.status)
    session.commit()
    return result

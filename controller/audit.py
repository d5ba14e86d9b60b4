"""The audit log: every state change made by staff, with who, when and what.

Every domain records its changes here, in the caller's transaction, so an entry commits with the
change it describes. Reading the log (its page, its export) is the accounts domain's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask, g, has_request_context
from flask_babel import LazyString
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from controller.access import StaffMember
from controller.db import Base, BigId, UTCDateTime, utcnow

# A member of staff, or "cli" / "system" / "schedule" / "device" for actions without a login.
Actor = StaffMember | str


class AuditLog(Base):
    """Who did what, when, to what. Never what a resident did."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(120))  # username, or "cli" / "system"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")


def actor_id(actor: Actor) -> int | None:
    """The account behind ``actor``, or None for the command line, the system, a device."""
    return None if isinstance(actor, str) else actor.id


def actor_name(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.username


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    summary: str = "",
    **detail: Any,
) -> AuditLog:
    """Add an entry to the log, in the caller's transaction (so it commits with the change).

    A change made through an API token says which one: a leaked token's doings can be found."""
    token_id = g.get("api_token_id") if has_request_context() else None
    if token_id is not None and not isinstance(actor, str):
        detail = {**detail, "via_api_token": token_id}
    entry = AuditLog(
        actor_id=actor_id(actor),
        actor=actor_name(actor),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary,
        detail=detail,
    )
    session.add(entry)
    return entry


# Reading the log: each domain says what its actions are in words, and names its targets.
ACTION_WORDS = "borne.audit_action_words"
TARGET_NAMES = "borne.audit_target_names"
# (session, target ids) -> {target id: (what people call it, the page that shows it or None)}
TargetNames = Callable[[Session, list[str]], dict[str, tuple[str, str | None]]]


def describe_actions(app: Flask, words: Mapping[str, str | LazyString]) -> None:
    """Say what ``app``'s audited actions are, in words (``_l``): {"device.retire": …}."""
    app.extensions.setdefault(ACTION_WORDS, {}).update(words)


def name_targets(app: Flask, target_type: str, names: TargetNames) -> None:
    """Say how to name the targets of one type (a domain's rows) and link to their page."""
    app.extensions.setdefault(TARGET_NAMES, {})[target_type] = names


def action_words(app: Flask) -> dict[str, str | LazyString]:
    words: dict[str, str | LazyString] = app.extensions.get(ACTION_WORDS, {})
    return words


def target_names(
    app: Flask, session: Session, entries: Iterable[AuditLog]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Each entry's target by name (and its page), one query per type of target."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        wanted.setdefault(entry.target_type, set()).add(entry.target_id)
    namers: dict[str, TargetNames] = app.extensions.get(TARGET_NAMES, {})
    found: dict[tuple[str, str], tuple[str, str | None]] = {}
    for target_type, ids in wanted.items():
        if target_type in namers:
            for target_id, named in namers[target_type](session, sorted(ids)).items():
                found[(target_type, target_id)] = named
    return found

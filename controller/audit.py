"""The audit log: every state change made by staff, with who, when and what.

Every domain records its changes here, in the caller's transaction, so an entry commits with the
change it describes. Reading the log (its page, its export) is the accounts domain's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context
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

"""The audit log: every state change made by staff, with who, when and what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.models import AuditLog, User

Actor = User | str  # a member of staff, or "cli" / "system" for actions without a login


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    summary: str = "",
    **detail: Any,
) -> AuditLog:
    """Add an entry to the log, in the caller's transaction (so it commits with the change)."""
    entry = AuditLog(
        actor_id=actor.id if isinstance(actor, User) else None,
        actor=actor.username if isinstance(actor, User) else actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary,
        detail=detail,
    )
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 200) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)))

"""Append one row to the audit log: who did what to which entity, before and after."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.models import AuditLog


async def record(
    sessions: async_sessionmaker[AsyncSession],
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    async with sessions.begin() as session:
        session.add(
            AuditLog(
                occurred_at=datetime.now(UTC),
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                before=before,
                after=after,
            )
        )

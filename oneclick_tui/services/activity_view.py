"""The audit log as the console shows it: newest first, read incrementally by id.

The console polls once a second; asking only for rows after the newest id it has keeps each
poll one indexed range read however long the log grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from oneclick_tui.services.runtime import Services
from oneclick_tui.stores.models import AuditLog

SUMMARY_WIDTH = 90


@dataclass(frozen=True)
class ActivityRow:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    entity: str
    summary: str

    def matches(self, text: str) -> bool:
        needle = text.strip().lower()
        haystack = f"{self.actor} {self.action} {self.entity} {self.summary}".lower()
        return not needle or needle in haystack


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return "-" if value is None else str(value)


def summarize(
    before: dict[str, Any] | None, after: dict[str, Any] | None, width: int = SUMMARY_WIDTH
) -> str:
    """Changed keys as `key: old→new`, then context `k=v` → outcome `k=v` for one-sided keys.

    The engine writes the decision's context as `before` and its outcome as `after` (disjoint
    keys); a user's edit writes the same keys on both sides. Both read naturally this way.
    """
    before, after = before or {}, after or {}
    changed = [
        f"{k}: {_value(before[k])}→{_value(after[k])}"
        for k in before
        if k in after and before[k] != after[k]
    ]
    was = " ".join(f"{k}={_value(v)}" for k, v in before.items() if k not in after)
    now = " ".join(f"{k}={_value(v)}" for k, v in after.items() if k not in before)
    if was:
        now = f"{was} → {now or '∅'}"
    text = "; ".join(part for part in (*changed, now) if part)
    return text if len(text) <= width else text[: width - 1] + "…"


def to_row(log: AuditLog) -> ActivityRow:
    entity = log.entity_type if log.entity_id is None else f"{log.entity_type}:{log.entity_id}"
    return ActivityRow(
        log.id, log.occurred_at, log.actor, log.action, entity, summarize(log.before, log.after)
    )


class ActivityView:
    """Reads the audit log."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def recent(self, limit: int = 300, after_id: int | None = None) -> list[ActivityRow]:
        """Newest first: the newest `limit` rows, or the oldest `limit` rows after `after_id`.

        After an id the read goes forward, so a burst larger than `limit` is read over
        several polls instead of leaving a gap.
        """
        query = select(AuditLog).limit(limit)
        if after_id is None:
            query = query.order_by(AuditLog.id.desc())
        else:
            query = query.where(AuditLog.id > after_id).order_by(AuditLog.id.asc())
        async with self.s.sessions() as session:
            rows = (await session.scalars(query)).all()
        return sorted((to_row(row) for row in rows), key=lambda r: -r.id)

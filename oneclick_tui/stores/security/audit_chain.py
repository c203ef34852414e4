"""Verify the audit log's hash chain (PostgreSQL).

Why in Python and not with the database's own `oneclick_audit_hash`: whoever can rewrite rows
could also replace that function. Each row's hash covers the previous row's hash, so an edited
row breaks its own hash and a deleted row breaks its successor's `prev_hash`. A deleted tail
leaves a shorter but valid chain: compare the head (id, hash) with one recorded earlier
(`--expect-head`) to catch that too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import asyncpg

from oneclick_tui.stores.security.roles import libpq_url

_SEP = "\x1f"
_ROWS = """
SELECT id, prev_hash, row_hash, actor, action, entity_type, entity_id,
       to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
       before::text AS before, after::text AS after
FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2
"""


@dataclass
class ChainReport:
    """The verdict: rows checked, the head, and every break found (empty = intact)."""

    rows: int = 0
    head_id: int | None = None
    head_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def row_hash(
    prev: str | None,
    row_id: int,
    at: str,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: str | None,
    after: str | None,
) -> str:
    """The same text the trigger hashes (see migration 0003, `oneclick_audit_hash`)."""
    parts = [
        prev or "",
        str(row_id),
        at,
        actor,
        action,
        entity_type,
        entity_id or "",
        before or "",
        after or "",
    ]
    return hashlib.sha256(_SEP.join(parts).encode()).hexdigest()


async def verify(url: str, batch: int = 5000, expect_head: str | None = None) -> ChainReport:
    """Walk the whole chain in id order; `expect_head` = 'ID:HASH' recorded earlier."""
    report = ChainReport()
    want_id = int(expect_head.partition(":")[0]) if expect_head else None
    hash_at_want: str | None = None
    conn = await asyncpg.connect(libpq_url(url))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            last_id, prev = 0, None
            while True:
                rows = await conn.fetch(_ROWS, last_id, batch)
                for r in rows:
                    report.rows += 1
                    if r["prev_hash"] != prev:
                        report.problems.append(
                            f"row {r['id']}: prev_hash does not match row {last_id or '-'} "
                            "(a row before it was deleted or altered)"
                        )
                    expected = row_hash(
                        r["prev_hash"],
                        r["id"],
                        r["at"],
                        r["actor"],
                        r["action"],
                        r["entity_type"],
                        r["entity_id"],
                        r["before"],
                        r["after"],
                    )
                    if r["row_hash"] != expected:
                        report.problems.append(f"row {r['id']}: content does not match its hash")
                    last_id, prev = r["id"], r["row_hash"]
                    if r["id"] == want_id:
                        hash_at_want = r["row_hash"]
                if len(rows) < batch:
                    break
            report.head_id, report.head_hash = (last_id or None), prev
    finally:
        await conn.close()
    if expect_head:
        want_hash = expect_head.partition(":")[2]
        if hash_at_want is None:
            report.problems.append(f"recorded head row {want_id} is missing (rows removed)")
        elif hash_at_want != want_hash:
            report.problems.append(f"recorded head row {want_id} has a different hash now")
    return report

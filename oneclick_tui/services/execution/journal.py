"""The durable execution journal: the `execution_journal` table (migration 0004).

Why its own transaction per entry: the journal row and the copy's move pending -> submitted
must be committed together and BEFORE the signed bytes are submitted; the submit then may
land even if the process dies the next instant, and recovery finds the bytes here. The move
is conditional (`status = 'pending'`), so two engines racing for one copy cannot both
journal it: the loser's transaction fails and it submits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.services.execution.base import JournalEntry, Outcome
from oneclick_tui.stores.models import ExecutionJournal, Trade

_J = ExecutionJournal.__table__
_T = Trade.__table__


class JournalConflict(RuntimeError):
    """The copy is no longer pending (another engine, or a replay, got there first)."""


@dataclass(frozen=True, slots=True)
class OpenCopy:
    """A submitted copy whose transaction's outcome is not known yet, with its entry."""

    trade_id: int
    user_id: int
    pair_id: int
    side: str
    amount: Any
    price: Any
    entry: JournalEntry


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(
        str(row.trade_id),
        row.tx_hash,
        bytes(row.signed_bcs),
        row.sequence_number,
        row.expiration_timestamp_secs,
        row.sender,
        row.chain_id,
    )


class DbJournal:
    """`SubmissionJournal` over the database: copy ids are `trades.id` as text."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def get(self, copy_id: str) -> JournalEntry | None:
        async with self.sessions() as session:
            row = (await session.execute(select(_J).where(_J.c.trade_id == int(copy_id)))).first()
        return _entry(row) if row is not None else None

    async def put(self, entry: JournalEntry) -> None:
        """Journal the signed transaction and mark the copy submitted, in one commit."""
        now = datetime.now(UTC)
        trade_id = int(entry.copy_id)
        async with self.sessions.begin() as session:
            moved = await session.execute(
                update(_T)
                .where(_T.c.id == trade_id, _T.c.status == "pending")
                .values(status="submitted", tx_hash=entry.tx_hash)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise JournalConflict(f"copy {trade_id} is no longer pending; not submitted")
            await session.execute(
                insert(_J).values(
                    trade_id=trade_id,
                    chain_id=entry.chain_id,
                    sender=entry.sender,
                    sequence_number=entry.sequence_number,
                    expiration_timestamp_secs=entry.expiration_timestamp_secs,
                    tx_hash=entry.tx_hash,
                    signed_bcs=entry.bcs,
                    status="signed",
                    created_at=now,
                    updated_at=now,
                )
            )

    async def highest_sequence(self, sender: str, now_secs: float) -> int | None:
        """Highest sequence number of `sender` signed here that may still land."""
        async with self.sessions() as session:
            found = await session.scalar(
                select(func.max(_J.c.sequence_number)).where(
                    _J.c.sender == sender,
                    _J.c.status == "signed",
                    _J.c.expiration_timestamp_secs > int(now_secs),
                )
            )
        return int(found) if found is not None else None


async def open_copies(session: AsyncSession) -> list[OpenCopy]:
    """Submitted copies whose journaled transaction has no known outcome, oldest first."""
    query = (
        select(
            _T.c.id, _T.c.user_id, _T.c.pair_id, _T.c.trade_type, _T.c.amount, _T.c.price,
            _J.c.trade_id, _J.c.tx_hash, _J.c.signed_bcs, _J.c.sequence_number,
            _J.c.expiration_timestamp_secs, _J.c.sender, _J.c.chain_id,
        )
        .join(_J, _J.c.trade_id == _T.c.id)
        .where(_T.c.status == "submitted", _J.c.status == "signed")
        .order_by(_J.c.id)
    )  # fmt: skip
    rows = (await session.execute(query)).all()
    return [OpenCopy(r.id, r.user_id, r.pair_id, r.trade_type, r.amount, r.price, _entry(r))
            for r in rows]  # fmt: skip


async def settle(session: AsyncSession, outcomes: Iterable[Outcome], now: datetime) -> None:
    """Record what became of journaled transactions (only entries still `signed` change)."""
    rows: Sequence[dict[str, Any]] = [
        {
            "b_trade_id": o.trade_id,
            "b_status": o.journal_status,
            "b_vm_status": o.vm_status,
            "b_version": o.version,
            "b_reason": o.reason,
            "b_updated_at": now,
        }
        for o in outcomes
        if o.journal_status is not None
    ]
    if not rows:
        return
    stmt = (
        update(_J)
        .where(_J.c.trade_id == bindparam("b_trade_id"), _J.c.status == "signed")
        .values(
            status=bindparam("b_status"),
            vm_status=bindparam("b_vm_status"),
            version=bindparam("b_version"),
            reason=bindparam("b_reason"),
            updated_at=bindparam("b_updated_at"),
        )
    )
    connection = await session.connection()
    await connection.execute(stmt, list(rows))

"""Trades: lead trades, copies, skips and manual / stop-loss trades in one table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oneclick_tui.domain import entities as e
from oneclick_tui.stores import copy_store
from oneclick_tui.stores import models as m
from oneclick_tui.stores.errors import DuplicateError, NotFoundError, StateError, ValidationError
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.base import Repository, to_entity

FINAL_STATUSES = ("completed", "failed", "skipped")


def _aware(label: str, value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValidationError(f"{label} must be timezone-aware, got {value.isoformat()}")
    return value


class TradeRepository(Repository):
    constraint_messages = {
        "uq_trades_user_id_copy_of_trade_id": (
            DuplicateError,
            "this follower already has a copy (or skip) of that lead trade",
        ),
        "uq_trades_tx_hash": (DuplicateError, "a trade with this transaction hash exists"),
    }

    async def record(
        self,
        *,
        kind: str,
        pair_id: int,
        trade_type: str,
        amount: Decimal,
        price: Decimal | None = None,
        user_id: int | None = None,
        trader_id: int | None = None,
        copy_of_trade_id: int | None = None,
        status: str = "pending",
        skip_reason: str | None = None,
        failure_reason: str | None = None,
        total_value: Decimal | None = None,
        fees_paid: Decimal = Decimal(0),
        realized_pnl: Decimal | None = None,
        tx_hash: str | None = None,
        chain_version: int | None = None,
        executed_at: datetime | None = None,
    ) -> e.Trade:
        """Write one trade after checking every rule the schema enforces."""
        values = self._check(
            kind=kind,
            trade_type=trade_type,
            status=status,
            user_id=user_id,
            trader_id=trader_id,
            copy_of_trade_id=copy_of_trade_id,
            amount=amount,
            price=price,
            skip_reason=skip_reason,
            total_value=total_value,
            fees_paid=fees_paid,
            realized_pnl=realized_pnl,
        )
        async with self.transaction() as session:
            if user_id is not None:
                await self.require(session, m.User, user_id, "user")
            if trader_id is not None:
                await self.require(session, m.Trader, trader_id, "trader")
            await self.require(session, m.TradingPair, pair_id, "trading pair")
            created_at = self._clock()
            if copy_of_trade_id is not None:
                lead = await session.get(m.Trade, copy_of_trade_id)
                if lead is None or lead.kind != "lead":
                    raise NotFoundError(f"lead trade {copy_of_trade_id} not found")
                if user_id is not None and await session.scalar(
                    select(m.Trade.id).where(
                        m.Trade.user_id == user_id, m.Trade.copy_of_trade_id == copy_of_trade_id
                    )
                ):
                    raise DuplicateError(
                        f"user {user_id} already has a copy of lead trade {copy_of_trade_id}"
                    )
                # A copy lives at its lead's time: the exactly-once key (and, on PostgreSQL,
                # the monthly partition) is (user, lead trade, lead's created_at).
                created_at = lead.created_at
            if tx_hash is not None and await session.scalar(
                select(m.Trade.id).where(m.Trade.tx_hash == tx_hash)
            ):
                raise DuplicateError(f"a trade with transaction hash {tx_hash} already exists")
            row = m.Trade(
                **values,
                pair_id=pair_id,
                failure_reason=failure_reason,
                tx_hash=tx_hash,
                chain_version=chain_version,
                executed_at=_aware("executed at", executed_at),
                created_at=created_at,
            )
            session.add(row)
            await session.flush()
            await _count_completed_copy(session, row)
            await session.refresh(row)
            return to_entity(e.Trade, row)

    @staticmethod
    def _check(**given: Any) -> dict[str, Any]:
        kind = v.choice("trade kind", given["kind"], e.TRADE_KINDS)
        v.choice("trade type", given["trade_type"], e.TRADE_TYPES)
        status = v.choice("trade status", given["status"], e.TRADE_STATUSES)
        if (kind == "lead") != (given["user_id"] is None):
            raise ValidationError(
                "a lead trade has no user; copy, manual and stop-loss trades need one"
            )
        if kind in ("lead", "copy") and given["trader_id"] is None:
            raise ValidationError(f"a {kind} trade needs the lead trader")
        if kind == "copy" and given["copy_of_trade_id"] is None:
            raise ValidationError("a copy trade needs the lead trade it copies")
        skipped = status == "skipped"
        amount = v.non_negative("amount", given["amount"])
        if amount == 0 and not skipped:
            raise ValidationError(f"amount must be greater than 0, got {amount}")
        price = given["price"]
        if price is not None:
            price = v.positive("price", price)
        elif not skipped:
            raise ValidationError("price is required unless the trade is skipped")
        reason = given["skip_reason"]
        if skipped and not (reason and reason.strip()):
            raise ValidationError("a skipped trade needs a skip reason")
        if not skipped and reason is not None:
            raise ValidationError(f"only skipped trades have a skip reason, status is {status}")
        total = v.optional_decimal("total value", given["total_value"])
        if total is None and price is not None:
            total = amount * price
        return {
            "kind": kind,
            "trade_type": given["trade_type"],
            "status": status,
            "user_id": given["user_id"],
            "trader_id": given["trader_id"],
            "copy_of_trade_id": given["copy_of_trade_id"],
            "amount": amount,
            "price": price,
            "skip_reason": reason,
            "total_value": total,
            "fees_paid": v.non_negative("fees paid", given["fees_paid"]),
            "realized_pnl": v.optional_decimal("realized PnL", given["realized_pnl"]),
        }

    async def set_status(
        self,
        trade_id: int,
        status: str,
        *,
        tx_hash: str | None = None,
        chain_version: int | None = None,
        failure_reason: str | None = None,
        executed_at: datetime | None = None,
    ) -> e.Trade:
        """Move a pending/submitted trade on; finished trades are never rewritten."""
        v.choice("trade status", status, ("submitted", "completed", "failed"))
        if status == "failed" and not failure_reason:
            raise ValidationError("a failed trade needs a failure reason")
        async with self.transaction() as session:
            row = await self.require(session, m.Trade, trade_id, "trade")
            if row.status in FINAL_STATUSES:
                raise StateError(f"trade {trade_id} is already {row.status}")
            row.status = status
            if tx_hash is not None:
                row.tx_hash = tx_hash
            if chain_version is not None:
                row.chain_version = chain_version
            if failure_reason is not None:
                row.failure_reason = failure_reason
            if status == "completed":
                row.executed_at = _aware("executed at", executed_at) or self._clock()
            await session.flush()
            await _count_completed_copy(session, row)
            return to_entity(e.Trade, row)

    async def get(self, trade_id: int) -> e.Trade:
        async with self.transaction() as session:
            return to_entity(e.Trade, await self.require(session, m.Trade, trade_id, "trade"))

    async def recent_for_user(self, user_id: int, limit: int = 50) -> list[e.Trade]:
        query = (
            select(m.Trade)
            .where(m.Trade.user_id == user_id)
            .order_by(m.Trade.executed_at.desc())
            .limit(limit)
        )
        async with self.transaction() as session:
            return [to_entity(e.Trade, row) for row in await session.scalars(query)]

    async def unfinished(self) -> list[e.Trade]:
        """Pending and submitted trades, oldest first: what a restarted engine resumes."""
        query = (
            select(m.Trade)
            .where(m.Trade.status.in_(("pending", "submitted")))
            .order_by(m.Trade.created_at)
        )
        async with self.transaction() as session:
            return [to_entity(e.Trade, row) for row in await session.scalars(query)]


async def _count_completed_copy(session: AsyncSession, row: m.Trade) -> None:
    """A completed copy adds to its follower's running total (`copy_holdings`), in the same
    transaction, as the copy engine's bulk paths do."""
    fields = {
        "kind": row.kind, "status": row.status, "user_id": row.user_id,
        "trader_id": row.trader_id, "pair_id": row.pair_id, "trade_type": row.trade_type,
        "amount": row.amount,
    }  # fmt: skip
    await copy_store.add_to_holdings(session, copy_store.holding_deltas([fields]), m.utcnow())

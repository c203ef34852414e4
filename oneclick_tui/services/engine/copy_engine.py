"""The copy engine: a lead trade in, one copy or skip per live follower out, exactly once.

For each lead trade, in ONE transaction: the lead trade row (keyed by its transaction hash),
then a decision per live follow that has no record yet — a pending copy or a skip with its
reason — and an audit row per decision. Then, in a second transaction, the pending copies are
executed (paper: against the live book), moved to completed or failed, and the positions
updated. A crash between the two leaves pending rows that `recover()` finishes or fails; a
replayed lead trade finds every follower already decided and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain import positions as pos
from oneclick_tui.domain.copy_rules import (
    CopyOrder,
    CopySide,
    FollowerState,
    FollowTerms,
    LeadFill,
    Preferences,
    SizingMode,
    Skip,
    SkipReason,
    decide_copy,
)
from oneclick_tui.domain.market_events import LeadTrade, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import Catalog, PairInfo
from oneclick_tui.services.engine.paper import PaperFill, fill_on_book
from oneclick_tui.stores import copy_store as cs
from oneclick_tui.stores.models import Position, Trade, UserPreferences

log = logging.getLogger(__name__)

BOOK_LEVELS_FOR_GATE = 200
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass
class FanOut:
    """What one lead trade produced."""

    lead_trade_id: int | None
    copies: int = 0
    skips: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    failed: int = 0
    ignored: str | None = None


def utc_day_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class CopyEngine:
    """Decides, records and executes copies of lead trades for every follower."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        books: Mapping[str, OrderBook],
        *,
        stale_after: timedelta = timedelta(minutes=5),
        notify: Notify | None = None,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.books = books
        self.stale_after = stale_after
        self.notify = notify
        self._pairs_by_id = {p.id: p for p in catalog.pairs.values()}

    async def on_lead_trade(self, lead: LeadTrade) -> FanOut:
        """Record the lead trade, decide for every follower, then execute the copies."""
        trader = self.catalog.traders.get(lead.trader_address)
        pair = self.catalog.pairs.get(lead.pair)
        if trader is None or pair is None:
            why = "unknown trader" if trader is None else f"unknown pair {lead.pair}"
            log.warning("lead trade %s ignored: %s", lead.tx_hash, why)
            return FanOut(None, ignored=why)
        async with self.sessions.begin() as session:
            lead_id = await cs.record_lead_trade(session, lead, trader.id, pair.id)
            result = await self._decide_all(
                session,
                lead,
                lead_id,
                trader.id,
                trader.risk_category,
                trader.starting_balance,
                pair,
            )
        executed = await self.execute_pending(lead_id, now=lead.at)
        result.completed, result.failed = executed
        if self.notify is not None:
            await self.notify(
                "copy.fanout",
                {
                    "lead_trade_id": lead_id,
                    "copies": result.copies,
                    "completed": result.completed,
                    "skips": result.skips,
                },
            )
        return result

    async def _decide_all(
        self,
        session: AsyncSession,
        lead: LeadTrade,
        lead_id: int,
        trader_id: int,
        risk_category: str,
        leader_equity: Decimal | None,
        pair: PairInfo,
    ) -> FanOut:
        follows = await cs.follows_to_decide(session, trader_id, lead_id)
        result = FanOut(lead_id)
        if not follows:
            return result
        ids = [f.follower_id for f in follows]
        spec = pair.spec
        held = await cs.holdings(session, ids, {spec.base, spec.quote})
        today = await cs.traded_since(session, ids, utc_day_start(lead.at))
        built: dict[int, Decimal] = {}
        leader_before: Decimal | None = None
        if lead.side is Side.SELL:
            built = await cs.built_from_trader(session, ids, trader_id, pair.id)
            leader_before = await _leader_position_before(session, trader_id, pair.id, lead)
        book = self.books.get(lead.pair)
        mid = book.mid() if book is not None else None
        levels = _levels(book, lead.side)
        fill = LeadFill(
            lead.side, lead.amount, lead.price, risk_category, leader_equity, leader_before
        )
        trades, audits = [], []
        for follow in follows:
            state = FollowerState(
                quote_balance=held.get((follow.follower_id, spec.quote), Decimal(0)),
                base_held=held.get((follow.follower_id, spec.base), Decimal(0)),
                base_from_lead=built.get(follow.follower_id, Decimal(0)),
                equity=held.get((follow.follower_id, spec.quote), Decimal(0)),
                traded_today=today.get(follow.follower_id, Decimal(0)),
            )
            decision: CopyOrder | Skip
            if mid is None:
                decision = Skip(SkipReason.SLIPPAGE, "no live book for the pair")
            else:
                decision = decide_copy(
                    _terms(follow), _prefs(follow), pair.rules, fill, state, levels, mid
                )
            trades.append(_decision_row(decision, follow, trader_id, pair.id, lead_id, lead))
            audits.append(_decision_audit(decision, follow, lead_id, lead))
            _count(result, decision)
        await cs.insert_decisions(session, trades, audits)
        return result

    async def execute_pending(
        self, lead_trade_id: int | None = None, now: datetime | None = None
    ) -> tuple[int, int]:
        """Execute pending copies (of one lead trade, or all); returns (completed, failed)."""
        now = now or datetime.now(UTC)
        async with self.sessions.begin() as session:
            pending = await cs.pending_copies(session, lead_trade_id)
            if not pending:
                return 0, 0
            users = sorted({t.user_id for t in pending if t.user_id is not None})
            slippage = await _slippage_by_user(session, users)
            book_positions = await _positions_by_user(session, users)
            done = failed = 0
            audits: list[dict[str, Any]] = []
            for trade in pending:
                ok = self._execute_one(session, trade, now, slippage, book_positions, audits)
                done, failed = (done + 1, failed) if ok else (done, failed + 1)
            await cs.insert_decisions(session, [], audits)
        return done, failed

    def _execute_one(
        self,
        session: AsyncSession,
        trade: Trade,
        now: datetime,
        slippage: dict[int, Decimal],
        positions: dict[tuple[int, str], Position],
        audits: list[dict[str, Any]],
    ) -> bool:
        pair = self._pairs_by_id.get(trade.pair_id)
        book = self.books.get(pair.spec.symbol) if pair else None
        assert trade.user_id is not None
        if pair is None or book is None:
            return _fail(trade, "pair has no live book", audits, now)
        if now - trade.created_at > self.stale_after:
            return _fail(trade, f"stale: not executed within {self.stale_after}", audits, now)
        side = Side(trade.trade_type)
        reference = trade.price or book.mid() or Decimal(0)
        bound = slippage.get(trade.user_id, Decimal(1)) / 100
        worst = reference * (1 + bound) if side is Side.BUY else reference * (1 - bound)
        result = fill_on_book(
            book, trade.id, side, trade.amount, worst, pair.spec.taker_fee, pair.spec.lot_size
        )
        if not isinstance(result, PaperFill):
            return _fail(trade, result.reason, audits, now)
        problem = _apply_fill(session, trade, pair, result, positions, now)
        if problem is not None:
            return _fail(trade, problem, audits, now)
        audits.append(
            _audit(
                "engine",
                "copy.completed",
                trade.id,
                None,
                {
                    "amount": str(result.amount),
                    "price": str(result.price),
                    "fee": str(result.fee),
                    "tx_hash": result.tx_hash,
                },
                now,
            )
        )
        return True

    async def recover(self, now: datetime | None = None) -> tuple[int, int]:
        """After a restart: finish (or fail as stale) every copy left pending by a crash."""
        done, failed = await self.execute_pending(None, now=now)
        if done or failed:
            log.info("recovered pending copies: %d completed, %d failed", done, failed)
        return done, failed


def _levels(book: OrderBook | None, side: Side) -> list[tuple[Decimal, Decimal]]:
    if book is None:
        return []
    return book.asks(BOOK_LEVELS_FOR_GATE) if side is Side.BUY else book.bids(BOOK_LEVELS_FOR_GATE)


async def _leader_position_before(
    session: AsyncSession, trader_id: int, pair_id: int, lead: LeadTrade
) -> Decimal:
    """The lead's base position on this pair before this sell, from his recorded trades."""
    query = select(Trade.trade_type, Trade.amount).where(
        Trade.kind == "lead",
        Trade.trader_id == trader_id,
        Trade.pair_id == pair_id,
        Trade.tx_hash != lead.tx_hash,
        Trade.chain_version < lead.version,
    )
    total = Decimal(0)
    for side, amount in (await session.execute(query)).all():
        total += amount if side == "buy" else -amount
    # Holdings from before we watched him are unknown: then this sell is treated as his exit.
    return max(total, lead.amount)


def _terms(f: cs.FollowRow) -> FollowTerms:
    return FollowTerms(
        status=f.status,
        auto_copy=f.auto_copy,
        copy_pct=f.copy_pct,
        sizing_mode=SizingMode(f.sizing_mode),
        fixed_quote_amount=f.fixed_quote_amount,
        copy_side=CopySide(f.copy_side),
    )


def _prefs(f: cs.FollowRow) -> Preferences:
    return Preferences(
        max_trade_amount=f.max_trade_amount,
        daily_limit=f.daily_limit,
        risk_tolerance=f.risk_tolerance,
        allowed_assets=frozenset(f.allowed_assets) if f.allowed_assets is not None else None,
        max_slippage_pct=f.max_slippage_pct,
    )


def _decision_row(
    decision: CopyOrder | Skip,
    follow: cs.FollowRow,
    trader_id: int,
    pair_id: int,
    lead_id: int,
    lead: LeadTrade,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "copy",
        "user_id": follow.follower_id,
        "trader_id": trader_id,
        "pair_id": pair_id,
        "copy_of_trade_id": lead_id,
        "trade_type": lead.side.value,
        "fees_paid": Decimal(0),
        "created_at": lead.at,
        "realized_pnl": None,
        "skip_reason": None,
        "failure_reason": None,
        "tx_hash": None,
        "chain_version": None,
        "executed_at": None,
    }
    if isinstance(decision, Skip):
        row.update(
            status="skipped",
            amount=Decimal(0),
            price=None,
            total_value=None,
            skip_reason=decision.reason.value,
            failure_reason=decision.detail,
        )
    else:
        row.update(
            status="pending",
            amount=decision.amount,
            price=decision.reference_price,
            total_value=decision.notional,
        )
    return row


def _decision_audit(
    decision: CopyOrder | Skip, follow: cs.FollowRow, lead_id: int, lead: LeadTrade
) -> dict[str, Any]:
    if isinstance(decision, Skip):
        after = {"reason": decision.reason.value, "detail": decision.detail}
        action = "copy.skipped"
    else:
        after = {
            "side": decision.side.value,
            "amount": str(decision.amount),
            "reference_price": str(decision.reference_price),
            "worst_price": str(decision.worst_price),
            "notes": list(decision.notes),
        }
        action = "copy.decided"
    return _audit(
        "engine",
        action,
        None,
        {"user_id": follow.follower_id, "lead_trade_id": lead_id},
        after,
        lead.at,
        entity_id=f"{follow.follower_id}:{lead_id}",
    )


def _audit(
    actor: str,
    action: str,
    trade_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    entity_id: str | None = None,
) -> dict[str, Any]:
    return {
        "occurred_at": at,
        "actor": actor,
        "action": action,
        "entity_type": "trade",
        "entity_id": entity_id or (str(trade_id) if trade_id is not None else None),
        "before": before,
        "after": after,
        "prev_hash": None,
        "row_hash": None,
    }


def _count(result: FanOut, decision: CopyOrder | Skip) -> None:
    if isinstance(decision, Skip):
        result.skips[decision.reason.value] = result.skips.get(decision.reason.value, 0) + 1
    else:
        result.copies += 1


def _fail(trade: Trade, reason: str, audits: list[dict[str, Any]], now: datetime) -> bool:
    trade.status = "failed"
    trade.failure_reason = reason
    audits.append(_audit("engine", "copy.failed", trade.id, None, {"reason": reason}, now))
    return False


async def _slippage_by_user(session: AsyncSession, users: list[int]) -> dict[int, Decimal]:
    query = select(UserPreferences.user_id, UserPreferences.max_slippage_pct).where(
        UserPreferences.user_id.in_(users)
    )
    return {u: s for u, s in (await session.execute(query)).all()}


async def _positions_by_user(
    session: AsyncSession, users: list[int]
) -> dict[tuple[int, str], Position]:
    rows = await session.scalars(select(Position).where(Position.user_id.in_(users)))
    return {(p.user_id, p.asset): p for p in rows.all()}


def _apply_fill(
    session: AsyncSession,
    trade: Trade,
    pair: PairInfo,
    fill: PaperFill,
    positions: dict[tuple[int, str], Position],
    now: datetime,
) -> str | None:
    """Move base and quote balances for a fill; a reason string if it cannot be applied."""
    assert trade.user_id is not None
    spec = pair.spec
    base = _position(session, positions, trade.user_id, spec.base, pair.id, now)
    cash = _position(session, positions, trade.user_id, spec.quote, None, now)
    current = pos.Position.from_avg_cost(base.quantity, base.average_cost)
    if trade.trade_type == "buy":
        cost = fill.notional + fill.fee
        if cash.quantity < cost:
            return f"insufficient_balance: needs {cost:.8f} {spec.quote}, has {cash.quantity}"
        outcome = pos.apply_buy(current, fill.amount, fill.price, fill.fee)
        cash.quantity -= cost
    else:
        try:
            outcome = pos.apply_sell(current, fill.amount, fill.price, fill.fee)
        except pos.OversellError as exc:
            return str(exc)
        cash.quantity += fill.notional - fill.fee
    base.quantity = outcome.position.quantity
    base.average_cost = outcome.position.avg_cost
    base.realized_pnl = (base.realized_pnl or Decimal(0)) + outcome.realized_pnl
    base.current_value = base.quantity * fill.price
    base.unrealized_pnl = base.quantity * (fill.price - base.average_cost)
    base.last_updated_at = cash.last_updated_at = now
    trade.status, trade.amount, trade.price = "completed", fill.amount, fill.price
    trade.total_value, trade.fees_paid = fill.notional, fill.fee
    trade.realized_pnl, trade.tx_hash, trade.executed_at = outcome.realized_pnl, fill.tx_hash, now
    return None


def _position(
    session: AsyncSession,
    positions: dict[tuple[int, str], Position],
    user_id: int,
    asset: str,
    pair_id: int | None,
    now: datetime,
) -> Position:
    found = positions.get((user_id, asset))
    if found is None:
        found = Position(
            user_id=user_id,
            asset=asset,
            pair_id=pair_id,
            quantity=Decimal(0),
            average_cost=Decimal(0),
            realized_pnl=Decimal(0),
            last_updated_at=now,
        )
        session.add(found)
        positions[(user_id, asset)] = found
    return found

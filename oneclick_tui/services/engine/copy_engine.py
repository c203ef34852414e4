"""The copy engine: a lead trade in, one copy or skip per live follower out, exactly once.

For each lead trade, in ONE transaction: the lead trade row (keyed by its transaction hash),
then a decision per live follow that has no record yet — a pending copy or a skip with its
reason — and an audit row per decision. A follower whose wallet key is loaded gets his copy
built as a Hyperion swap and signed (in a thread pool, `signer.py`) before that commit; the
signed hash goes into the decision's audit row, so the intent is durable before anything is
executed, and paper mode never submits it. Then, in a second transaction, the pending copies are
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
from oneclick_tui.domain.market_events import LeadTrade, PairSpec, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import Catalog, PairInfo
from oneclick_tui.services.engine.paper import PaperFill, fill_on_book
from oneclick_tui.services.engine.signer import CopySigner, CopyToSign
from oneclick_tui.stores import copy_store as cs
from oneclick_tui.stores.models import Trade

log = logging.getLogger(__name__)

BOOK_LEVELS_FOR_GATE = 200
CLOSING_KINDS = ("stop_loss", "manual")
"""Sells that close a position: sized to what is held when they execute."""
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
    handoff: Handoff | None = field(default=None, repr=False)
    """What the execute step needs, kept from the decide step (see `Handoff`)."""


@dataclass(frozen=True)
class Handoff:
    """The decide step's pending copies and the holdings it read, for the execute step.

    Why: re-reading 10,000 pending rows and 20,000 positions right after writing them was a
    fifth of the fan-out. Safe because the engine is the only writer of copies and
    positions and runs the two steps back to back; recovery after a crash reads from the
    database instead.
    """

    pending: list[cs.PendingCopy]
    positions: dict[tuple[int, str], cs.PositionState]


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
        signer: CopySigner | None = None,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.books = books
        self.stale_after = stale_after
        self.notify = notify
        self.signer = signer
        self._pairs_by_id = {p.id: p for p in catalog.pairs.values()}

    async def on_lead_trade(self, lead: LeadTrade) -> FanOut:
        """Record the lead trade, decide (and sign) for every follower, then execute."""
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
        if result.copies:
            result.completed, result.failed = await self.execute_pending(
                lead_id, now=lead.at, handoff=result.handoff
            )
            result.handoff = None
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
        spec = pair.spec
        held = await cs.follower_positions(session, trader_id, (spec.base, spec.quote))
        limited = [f.follower_id for f in follows if f.daily_limit is not None]
        today = await cs.traded_since(session, limited, utc_day_start(lead.at))
        built: dict[int, Decimal] = {}
        leader_before: Decimal | None = None
        if lead.side is Side.SELL:
            ids = [f.follower_id for f in follows]
            built = await cs.built_from_trader(session, ids, trader_id, pair.id)
            leader_before = await _leader_position_before(session, trader_id, pair.id, lead)
        book = self.books.get(lead.pair)
        mid = book.mid() if book is not None else None
        levels = _levels(book, lead.side)
        fill = LeadFill(
            lead.side, lead.amount, lead.price, risk_category, leader_equity, leader_before
        )
        rules = pair.rules
        zero = Decimal(0)
        trades, audits = [], []
        to_sign: list[tuple[int, CopyToSign]] = []
        for follow in follows:
            user = follow.follower_id
            cash = held.get((user, spec.quote))
            base = held.get((user, spec.base))
            quote_balance = cash.quantity if cash is not None else zero
            state = FollowerState(
                quote_balance=quote_balance,
                base_held=base.quantity if base is not None else zero,
                base_from_lead=built.get(user, zero),
                equity=quote_balance,
                traded_today=today.get(user, zero),
            )
            decision: CopyOrder | Skip
            if mid is None:
                decision = Skip(SkipReason.SLIPPAGE, "no live book for the pair")
            else:
                decision = decide_copy(
                    _terms(follow), _prefs(follow), rules, fill, state, levels, mid
                )
            trades.append(_decision_row(decision, follow, trader_id, pair.id, lead_id, lead))
            audits.append(_decision_audit(decision, follow, lead_id, lead))
            if (
                self.signer is not None
                and isinstance(decision, CopyOrder)
                and self.signer.has_key(user)
            ):
                order = CopyToSign(
                    user,
                    decision.side,
                    decision.amount,
                    decision.reference_price,
                    follow.max_slippage_pct,
                )
                to_sign.append((len(audits) - 1, order))
            _count(result, decision)
        if to_sign:
            await self._sign(spec, to_sign, audits)
        await cs.insert_decisions(session, trades, [])
        await cs.insert_audits(session, audits)
        if result.copies:
            trade_ids = await cs.pending_ids(session, lead_id)
            pending = [
                cs.PendingCopy(
                    trade_ids[t["user_id"]],
                    "copy",
                    t["user_id"],
                    pair.id,
                    t["trade_type"],
                    t["amount"],
                    t["price"],
                    t["total_value"],
                    t["created_at"],
                    slippage,
                )
                for t, slippage in zip(trades, (f.max_slippage_pct for f in follows), strict=True)
                if t["status"] == "pending" and t["user_id"] in trade_ids
            ]
            result.handoff = Handoff(pending, held)
        return result

    async def _sign(
        self,
        spec: PairSpec,
        to_sign: list[tuple[int, CopyToSign]],
        audits: list[dict[str, Any]],
    ) -> None:
        """Sign the copies (thread pool) and put each hash in its decision's audit row.

        Paper mode never submits: the hash records what would have gone to the chain.
        """
        assert self.signer is not None
        signed = await self.signer.sign(spec, [order for _, order in to_sign])
        for (index, _), tx in zip(to_sign, signed, strict=True):
            if tx is not None:
                audits[index]["after"]["signed_tx"] = {
                    "hash": tx.hash,
                    "sender": tx.sender,
                    "sequence_number": tx.sequence_number,
                    "submitted": False,
                }

    async def execute_pending(
        self,
        lead_trade_id: int | None = None,
        now: datetime | None = None,
        handoff: Handoff | None = None,
    ) -> tuple[int, int]:
        """Execute pending copies (of one lead trade, or all); returns (completed, failed)."""
        now = now or datetime.now(UTC)
        async with self.sessions.begin() as session:
            if handoff is not None:
                pending, positions = handoff.pending, handoff.positions
            else:
                pending = await cs.pending_copies(session, lead_trade_id)
                assets: set[str] = set()
                for pair_id in {p.pair_id for p in pending}:
                    info = self._pairs_by_id.get(pair_id)
                    if info is not None:
                        assets.update((info.spec.base, info.spec.quote))
                positions = await cs.positions_of_pending(session, lead_trade_id, assets)
            if not pending:
                return 0, 0
            done = failed = 0
            rows: list[dict[str, Any]] = []
            audits: list[dict[str, Any]] = []
            for trade in pending:
                if self._execute_one(trade, now, positions, rows, audits):
                    done += 1
                else:
                    failed += 1
            await cs.finish_copies(session, rows)
            await cs.save_positions(session, positions.values(), now)
            await cs.insert_decisions(session, [], audits)
        return done, failed

    def _execute_one(
        self,
        trade: cs.PendingCopy,
        now: datetime,
        positions: dict[tuple[int, str], cs.PositionState],
        rows: list[dict[str, Any]],
        audits: list[dict[str, Any]],
    ) -> bool:
        pair = self._pairs_by_id.get(trade.pair_id)
        book = self.books.get(pair.spec.symbol) if pair else None
        if pair is None or book is None:
            return _fail(trade, "pair has no live book", rows, audits, now)
        if now - trade.created_at > self.stale_after:
            return _fail(trade, f"stale: not executed within {self.stale_after}", rows, audits, now)
        side = Side(trade.side)
        reference = trade.price or book.mid() or Decimal(0)
        slippage = trade.max_slippage_pct if trade.max_slippage_pct is not None else Decimal(1)
        bound = slippage / 100
        worst = reference * (1 + bound) if side is Side.BUY else reference * (1 - bound)
        amount = trade.amount
        if side is Side.SELL and trade.kind in CLOSING_KINDS:
            # a stop-loss or flatten closes what is held NOW (a copy may have sold some since)
            held = positions.get((trade.user_id, pair.spec.base))
            amount = min(amount, held.quantity if held else Decimal(0))
            if amount <= 0:
                return _fail(trade, "nothing left to sell", rows, audits, now)
        result = fill_on_book(
            book, trade.id, side, amount, worst, pair.spec.taker_fee, pair.spec.lot_size
        )
        if not isinstance(result, PaperFill):
            return _fail(trade, result.reason, rows, audits, now)
        outcome = _apply_fill(trade, pair, result, positions)
        if isinstance(outcome, str):
            return _fail(trade, outcome, rows, audits, now)
        rows.append(
            _finish_row(
                trade.id,
                "completed",
                result.amount,
                result.price,
                result.notional,
                result.fee,
                outcome,
                result.tx_hash,
                now,
                None,
            )
        )
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
    after: dict[str, Any]
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


def _finish_row(
    trade_id: int,
    status: str,
    amount: Decimal,
    price: Decimal | None,
    total_value: Decimal | None,
    fee: Decimal,
    realized: Decimal | None,
    tx_hash: str | None,
    executed_at: datetime | None,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "v_status": status,
        "v_amount": amount,
        "v_price": price,
        "v_total_value": total_value,
        "v_fees_paid": fee,
        "v_realized_pnl": realized,
        "v_tx_hash": tx_hash,
        "v_executed_at": executed_at,
        "v_failure_reason": reason,
    }


def _fail(
    trade: cs.PendingCopy,
    reason: str,
    rows: list[dict[str, Any]],
    audits: list[dict[str, Any]],
    now: datetime,
) -> bool:
    rows.append(
        _finish_row(
            trade.id,
            "failed",
            trade.amount,
            trade.price,
            trade.total_value,
            Decimal(0),
            None,
            None,
            None,
            reason,
        )
    )
    audits.append(_audit("engine", "copy.failed", trade.id, None, {"reason": reason}, now))
    return False


def _apply_fill(
    trade: cs.PendingCopy,
    pair: PairInfo,
    fill: PaperFill,
    positions: dict[tuple[int, str], cs.PositionState],
) -> Decimal | str:
    """Move base and quote balances for a fill: the realized PnL, or why it cannot apply."""
    spec = pair.spec
    base = _position(positions, trade.user_id, spec.base, pair.id)
    cash = _position(positions, trade.user_id, spec.quote, None)
    current = pos.Position.from_avg_cost(base.quantity, base.average_cost)
    if trade.side == "buy":
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
    base.changed = cash.changed = True
    return outcome.realized_pnl


def _position(
    positions: dict[tuple[int, str], cs.PositionState],
    user_id: int,
    asset: str,
    pair_id: int | None,
) -> cs.PositionState:
    found = positions.get((user_id, asset))
    if found is None:
        zero = Decimal(0)
        found = cs.PositionState(user_id, asset, pair_id, zero, zero, zero)
        positions[(user_id, asset)] = found
    return found

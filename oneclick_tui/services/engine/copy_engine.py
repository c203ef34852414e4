"""The copy engine: a lead trade in, one copy or skip per live follower out, exactly once.

For each lead trade, in ONE transaction: the lead trade row (keyed by its transaction hash),
then a decision per live follow that has no record yet — a copy or a skip with its reason —
and an audit row per decision. A follower whose wallet key is loaded gets his copy built as a
Hyperion swap and signed (thread pool, `signer.py`, while the copy rows and positions are
written) before that commit; the hash goes into the copy's audit row (paper never submits it).

Execution goes through an `Executor` (`services/execution/base.py`). Paper (the default):
the copies are filled against the live book in that same transaction and written once,
completed or failed, with the positions and ONE audit row per copy (decision, signed hash
and outcome) — a crash loses all of it and the replayed lead redoes all of it. Live
(`AptosExecutor`): the copies are committed pending first; each is then signed and
journaled (`execution_journal`, pending -> submitted, one commit) before it is submitted,
and its outcome recorded in a last transaction. `recover()` settles submitted copies from
the journal by hash and finishes (or fails as stale) pending ones; a replayed lead trade
finds every follower already decided and writes nothing.
"""

from __future__ import annotations

import asyncio
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
    BookDepth,
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
from oneclick_tui.services.engine.catalog import Catalog, PairInfo, TraderInfo
from oneclick_tui.services.engine.signer import CopySigner, CopyToSign
from oneclick_tui.services.execution import journal as journal_store
from oneclick_tui.services.execution.base import (
    Executor,
    Order,
    Outcome,
    PaperExecutor,
    SubmissionJournal,
)
from oneclick_tui.services.execution.journal import DbJournal
from oneclick_tui.services.wallet.signing import SignedTx
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


class _Contended(Exception):
    """Some decided rows already existed: redo the fan-out on the two-step path."""


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
        executor: Executor | None = None,
        journal: SubmissionJournal | None = None,
        max_lead_age: timedelta | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.max_lead_age = max_lead_age
        """Live: a lead trade older than this (by `clock`) when seen is recorded, and every
        follower gets a `lead_too_old` skip. None (the simulator, whose replays are old by
        design): no limit."""
        self.clock = clock or (lambda: datetime.now(UTC))
        # Paper by default: the simulator and `runner.py` execute against the live books.
        self.executor: Executor = executor if executor is not None else PaperExecutor(books)
        self.journal: SubmissionJournal = journal if journal is not None else DbJournal(sessions)
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
        # Paper: decide and fill in ONE transaction (a crash loses both, the replay redoes
        # both). Live: the pending rows must be durable before anything is signed/submitted.
        try:
            lead_id, result = await self._record_and_decide(
                lead, trader, pair, fill_now=not self.executor.live
            )
        except _Contended:
            # another engine recorded some of these followers meanwhile: the two-step path
            # executes exactly the rows this one wrote
            lead_id, result = await self._record_and_decide(lead, trader, pair, fill_now=False)
        if result.copies and result.handoff is not None:
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

    async def _record_and_decide(
        self, lead: LeadTrade, trader: TraderInfo, pair: PairInfo, *, fill_now: bool
    ) -> tuple[int, FanOut]:
        """One transaction: the lead trade row, then every follower's decision."""
        async with self.sessions.begin() as session:
            lead_id, inserted = await cs.record_lead(session, lead, trader.id, pair.id)
            result = await self._decide_all(
                session,
                lead,
                lead_id,
                trader.id,
                trader.risk_category,
                trader.starting_balance,
                pair,
                fill_now=fill_now,
                last_id=lead_id if inserted else None,
            )
        return lead_id, result

    def _too_old(self, lead: LeadTrade) -> str | None:
        """Why `lead` is too old to copy now (live networks), or None."""
        if self.max_lead_age is None:
            return None
        age = self.clock() - lead.at
        if age <= self.max_lead_age:
            return None
        return f"seen {int(age.total_seconds())}s after it traded (limit {self.max_lead_age})"

    async def _decide_all(
        self,
        session: AsyncSession,
        lead: LeadTrade,
        lead_id: int,
        trader_id: int,
        risk_category: str,
        leader_equity: Decimal | None,
        pair: PairInfo,
        *,
        fill_now: bool = False,
        last_id: int | None = None,
    ) -> FanOut:
        """Decide (and sign) for every follower and write the decisions.

        `fill_now` (paper): the copies are filled in this same transaction and written once,
        already completed or failed; otherwise they are written pending and `result.handoff`
        carries them to `execute_pending`. `last_id`: the lead row this transaction just
        inserted, if it did (the copies' ids follow it on SQLite, see `allocate_trade_ids`).
        """
        spec = pair.spec
        read = await cs.fan_out_state(session, trader_id, lead_id, pair.id, spec.base, spec.quote)
        follows, held, built = read.follows, read.held, read.built
        result = FanOut(lead_id)
        if not follows:
            return result
        limited = [f.follower_id for f in follows if f.daily_limit is not None]
        today = await cs.traded_since(session, limited, utc_day_start(lead.at))
        leader_before: Decimal | None = None
        if lead.side is Side.SELL:
            leader_before = await _leader_position_before(session, trader_id, pair.id, lead)
        book = self.books.get(lead.pair)
        mid = book.mid() if book is not None else None
        levels = BookDepth(_levels(book, lead.side))
        fill = LeadFill(
            lead.side, lead.amount, lead.price, risk_category, leader_equity, leader_before
        )
        rules = pair.rules
        zero = Decimal(0)
        trades, audits = [], []
        to_sign: list[tuple[int, CopyToSign]] = []
        too_old = self._too_old(lead)
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
            if too_old is not None:
                decision = Skip(SkipReason.LEAD_TOO_OLD, too_old)
            elif mid is None:
                decision = Skip(SkipReason.SLIPPAGE, "no live book for the pair")
            else:
                decision = decide_copy(
                    _terms(follow), _prefs(follow), rules, fill, state, levels, mid
                )
            trades.append(_decision_row(decision, follow, trader_id, pair.id, lead_id, lead))
            audits.append(_decision_audit(decision, follow, lead_id, lead))
            if (
                self.signer is not None
                and not self.executor.live  # live: the executor signs, once, and journals
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
        # Signing runs in the thread pool while the rows that do not carry its hashes are
        # written (copy rows, positions): the database works, or the driver's thread waits
        # on it, meanwhile. Only the audit rows wait for the signatures.
        signing = self._start_signing(spec, to_sign)
        try:
            if fill_now and result.copies:
                await self._write_filled(
                    session, lead, pair, follows, trades, audits, held, result, signing, last_id
                )
                return result
            await cs.insert_decisions(session, trades, [])
        finally:
            signed = await signing if signing is not None else []
        _put_signed(signed, audits)
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

    async def _write_filled(
        self,
        session: AsyncSession,
        lead: LeadTrade,
        pair: PairInfo,
        follows: list[cs.FollowRow],
        trades: list[dict[str, Any]],
        audits: list[dict[str, Any]],
        held: dict[tuple[int, str], cs.PositionState],
        result: FanOut,
        signing: asyncio.Future[list[tuple[int, SignedTx | None]]] | None = None,
        last_id: int | None = None,
    ) -> None:
        """Paper: fill the decided copies now and write every row once, in this transaction.

        Ids are drawn first so a completed row carries its own simulated hash and its
        audit row names it. If the insert writes fewer rows than decided (another engine
        recorded some followers meanwhile), `_Contended` rolls all of it back.

        One audit row per copy: its decision (and signed hash) and its outcome together,
        `copy.completed` or `copy.failed` keyed by the copy's id, since both commit at once;
        a skip keeps its `copy.skipped` row. `signing` (the copies being signed in the
        thread pool) is awaited only before the audit rows, the last write.
        """
        ids = await cs.allocate_trade_ids(session, len(trades), after=last_id)
        pending: list[cs.PendingCopy] = []
        for t, trade_id, follow in zip(trades, ids, follows, strict=True):
            t["id"] = trade_id
            if t["status"] == "pending":
                pending.append(
                    cs.PendingCopy(
                        trade_id, "copy", t["user_id"], pair.id, t["trade_type"], t["amount"],
                        t["price"], t["total_value"], t["created_at"], follow.max_slippage_pct,
                    )
                )  # fmt: skip
        rows: list[dict[str, Any]] = []
        done_audits: list[dict[str, Any]] = []
        result.completed, result.failed = await self._execute_waves(
            pending, lead.at, held, rows, done_audits
        )
        by_id = {t["id"]: t for t in trades}
        for row in rows:
            t = by_id[row["trade_id"]]
            for column in cs.FINISH_COLUMNS:
                t[column] = row["v_" + column]
        if await cs.insert_decisions(session, trades, []) != len(trades):
            raise _Contended
        await cs.save_positions(session, held.values(), lead.at)
        if signing is not None:
            _put_signed(await signing, audits)
        outcome_of = {int(a["entity_id"]): a for a in done_audits}
        merged: list[dict[str, Any]] = []
        for t, decided in zip(trades, audits, strict=True):
            done = outcome_of.pop(t["id"], None) if t["status"] != "skipped" else None
            if done is None:
                merged.append(decided)
                continue
            after = dict(decided["after"])
            after["decided_amount"] = after.pop("amount")
            after.update(done["after"])  # filled amount, price, fee, hash; or the reason
            merged.append({**done, "before": decided["before"], "after": after})
        merged.extend(outcome_of.values())
        await cs.insert_audits(session, merged)

    def _start_signing(
        self, spec: PairSpec, to_sign: list[tuple[int, CopyToSign]]
    ) -> asyncio.Future[list[tuple[int, SignedTx | None]]] | None:
        """Start signing the copies in the thread pool; each result names its audit row.

        Paper mode never submits: the hash records what would have gone to the chain.
        """
        if not to_sign or self.signer is None:
            return None
        signer = self.signer

        async def sign() -> list[tuple[int, SignedTx | None]]:
            signed = await signer.sign(spec, [order for _, order in to_sign])
            return [(index, tx) for (index, _), tx in zip(to_sign, signed, strict=True)]

        return asyncio.ensure_future(sign())

    async def execute_pending(
        self,
        lead_trade_id: int | None = None,
        now: datetime | None = None,
        handoff: Handoff | None = None,
    ) -> tuple[int, int]:
        """Execute pending copies (of one lead trade, or all); returns (completed, failed)."""
        now = now or datetime.now(UTC)
        if self.executor.live:
            return await self._execute_live(lead_trade_id, now)
        async with self.sessions.begin() as session:
            if handoff is not None:
                pending, positions = handoff.pending, handoff.positions
            else:
                pending = await cs.pending_copies(session, lead_trade_id)
                positions = await cs.positions_of_pending(
                    session, lead_trade_id, self._assets_of(pending)
                )
            if not pending:
                return 0, 0
            rows: list[dict[str, Any]] = []
            audits: list[dict[str, Any]] = []
            done, failed = await self._execute_waves(pending, now, positions, rows, audits)
            await cs.finish_copies(session, rows)
            await cs.save_positions(session, positions.values(), now)
            await cs.insert_decisions(session, [], audits)
        return done, failed

    def _assets_of(self, pending: list[cs.PendingCopy]) -> set[str]:
        assets: set[str] = set()
        for pair_id in {p.pair_id for p in pending}:
            info = self._pairs_by_id.get(pair_id)
            if info is not None:
                assets.update((info.spec.base, info.spec.quote))
        return assets

    async def _execute_waves(
        self,
        pending: list[cs.PendingCopy],
        now: datetime,
        positions: dict[tuple[int, str], cs.PositionState],
        rows: list[dict[str, Any]],
        audits: list[dict[str, Any]],
    ) -> tuple[int, int]:
        """Prepare, execute and account for copies, in waves.

        A wave ends before a closing sell of a user who already has an order in it: that
        sell is sized to what is held once the earlier fills are applied.
        """
        done = failed = 0
        start = 0
        while start < len(pending):
            users: set[int] = set()
            end = start
            while end < len(pending):
                trade = pending[end]
                if trade.kind in CLOSING_KINDS and trade.user_id in users:
                    break
                users.add(trade.user_id)
                end += 1
            ready: list[tuple[cs.PendingCopy, Order]] = []
            for trade in pending[start:end]:
                prepared = self._prepare(trade, now, positions)
                if isinstance(prepared, str):
                    failed += 1
                    _fail(trade, prepared, rows, audits, now)
                else:
                    ready.append((trade, prepared))
            outcomes = await self.executor.execute_orders([o for _, o in ready], self.journal)
            for (trade, _), outcome in zip(ready, outcomes, strict=True):
                if self._settle(trade, outcome, positions, rows, audits, now):
                    done += 1
                elif outcome.status == "failed":
                    failed += 1
            start = end
        return done, failed

    def _prepare(
        self,
        trade: cs.PendingCopy,
        now: datetime,
        positions: dict[tuple[int, str], cs.PositionState],
    ) -> Order | str:
        """The order to execute for a pending copy, or why it must fail without executing."""
        pair = self._pairs_by_id.get(trade.pair_id)
        book = self.books.get(pair.spec.symbol) if pair else None
        if pair is None or book is None:
            return "pair has no live book"
        if now - trade.created_at > self.stale_after:
            return f"stale: not executed within {self.stale_after}"
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
                return "nothing left to sell"
        return Order(trade.id, trade.user_id, pair.spec, side, amount, reference, worst, slippage)

    def _settle(
        self,
        trade: cs.PendingCopy,
        outcome: Outcome,
        positions: dict[tuple[int, str], cs.PositionState],
        rows: list[dict[str, Any]],
        audits: list[dict[str, Any]],
        now: datetime,
    ) -> bool:
        """Account for an outcome: True if completed; an unknown one is left as it is."""
        if outcome.status == "unknown":
            return False
        if outcome.status == "failed":
            _fail(trade, outcome.reason or "failed", rows, audits, now, outcome)
            return False
        pair = self._pairs_by_id[trade.pair_id]
        amount = outcome.amount if outcome.amount > 0 else trade.amount
        price = outcome.price if outcome.price is not None else trade.price or Decimal(0)
        applied = _apply_fill(trade, pair, amount, price, outcome.fee, positions)
        realized: Decimal | None = None
        note: str | None = None
        if isinstance(applied, str):
            if not self.executor.live:
                _fail(trade, applied, rows, audits, now)
                return False
            # Landed on chain: it happened. Our mirror of the wallet disagrees; say so.
            note = f"positions not updated: {applied}"
            log.warning("copy %s completed on chain but %s", trade.id, note)
        else:
            realized = applied
        rows.append(
            _finish_row(
                trade.id,
                "completed",
                amount,
                price,
                amount * price,
                outcome.fee,
                realized,
                outcome.tx_hash,
                now,
                None,
                outcome.version,
            )
        )
        after: dict[str, Any] = {
            "amount": str(amount),
            "price": str(price),
            "fee": str(outcome.fee),
            "tx_hash": outcome.tx_hash,
        }
        if outcome.version is not None:
            after.update(version=outcome.version, vm_status=outcome.vm_status)
        if note is not None:
            after["note"] = note
        audits.append(_audit("engine", "copy.completed", trade.id, None, after, now))
        return True

    async def _execute_live(self, lead_trade_id: int | None, now: datetime) -> tuple[int, int]:
        """Live: sign, journal (durable), submit and wait per copy, then record outcomes.

        No database transaction is held across the network: the journal's conditional
        pending -> submitted move is what claims a copy. Copies whose outcome is unknown
        stay `submitted` for `recover()`.
        """
        async with self.sessions.begin() as session:
            pending = await cs.pending_copies(session, lead_trade_id)
            if not pending:
                return 0, 0
            held = await cs.positions_of_pending(session, lead_trade_id, self._assets_of(pending))
        rows: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        ready: list[tuple[cs.PendingCopy, Order]] = []
        failed = 0
        for trade in pending:
            prepared = self._prepare(trade, now, held)
            if isinstance(prepared, str):
                failed += 1
                _fail(trade, prepared, rows, audits, now)
            else:
                ready.append((trade, prepared))
        outcomes = await self.executor.execute_orders([o for _, o in ready], self.journal)
        pairs = [(t, o) for (t, _), o in zip(ready, outcomes, strict=True)]
        done, more_failed = await self._record_live(pairs, rows, audits, now)
        return done, failed + more_failed

    async def _record_live(
        self,
        results: list[tuple[cs.PendingCopy, Outcome]],
        rows: list[dict[str, Any]],
        audits: list[dict[str, Any]],
        now: datetime,
    ) -> tuple[int, int]:
        """One transaction: copies finished, positions moved, journal entries settled."""
        done = failed = 0
        async with self.sessions.begin() as session:
            users = [t.user_id for t, o in results if o.status == "completed"]
            assets = self._assets_of([t for t, _ in results])
            positions = await cs.positions_of_users(session, users, assets)
            for trade, outcome in results:
                if self._settle(trade, outcome, positions, rows, audits, now):
                    done += 1
                elif outcome.status == "failed":
                    failed += 1
            await cs.finish_copies(session, rows)
            await cs.save_positions(session, positions.values(), now)
            await cs.insert_decisions(session, [], audits)
            await journal_store.settle(session, (o for _, o in results), now)
        return done, failed

    async def reconcile_submitted(self, now: datetime | None = None) -> tuple[int, int]:
        """Settle submitted copies with the chain: (completed, failed); unknown ones stay."""
        now = now or datetime.now(UTC)
        async with self.sessions() as session:
            open_ = await journal_store.open_copies(session)
        if not open_:
            return 0, 0
        outcomes = await self.executor.reconcile([c.entry for c in open_])
        results = [
            (
                cs.PendingCopy(
                    c.trade_id, "copy", c.user_id, c.pair_id, c.side, c.amount, c.price,
                    None, now, None,
                ),
                o,
            )
            for c, o in zip(open_, outcomes, strict=True)
        ]  # fmt: skip
        return await self._record_live(results, [], [], now)

    async def recover(self, now: datetime | None = None) -> tuple[int, int]:
        """After a restart: settle submitted copies with the executor, then finish (or fail
        as stale) every copy left pending by a crash."""
        done = failed = 0
        if self.executor.live:
            done, failed = await self.reconcile_submitted(now)
        more_done, more_failed = await self.execute_pending(None, now=now)
        done, failed = done + more_done, failed + more_failed
        if done or failed:
            log.info("recovered copies: %d completed, %d failed", done, failed)
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


def _put_signed(signed: list[tuple[int, SignedTx | None]], audits: list[dict[str, Any]]) -> None:
    """Put each signed copy's hash in its decision's audit row (paper never submits it)."""
    for index, tx in signed:
        if tx is not None:
            audits[index]["after"]["signed_tx"] = {
                "hash": tx.hash,
                "sender": tx.sender,
                "sequence_number": tx.sequence_number,
                "submitted": False,
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
    version: int | None = None,
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
        "v_chain_version": version,
        "v_executed_at": executed_at,
        "v_failure_reason": reason,
    }


def _fail(
    trade: cs.PendingCopy,
    reason: str,
    rows: list[dict[str, Any]],
    audits: list[dict[str, Any]],
    now: datetime,
    outcome: Outcome | None = None,
) -> bool:
    """Record a failed copy; a journaled one keeps its hash (and version, if it landed)."""
    tx_hash = outcome.tx_hash if outcome is not None else None
    version = outcome.version if outcome is not None else None
    rows.append(
        _finish_row(
            trade.id,
            "failed",
            trade.amount,
            trade.price,
            trade.total_value,
            Decimal(0),
            None,
            tx_hash,
            None,
            reason,
            version,
        )
    )
    after: dict[str, Any] = {"reason": reason}
    if tx_hash is not None:
        after.update(tx_hash=tx_hash, version=version)
        if outcome is not None and outcome.vm_status:
            after["vm_status"] = outcome.vm_status
    audits.append(_audit("engine", "copy.failed", trade.id, None, after, now))
    return False


def _apply_fill(
    trade: cs.PendingCopy,
    pair: PairInfo,
    amount: Decimal,
    price: Decimal,
    fee: Decimal,
    positions: dict[tuple[int, str], cs.PositionState],
) -> Decimal | str:
    """Move base and quote balances for a fill: the realized PnL, or why it cannot apply."""
    fill = _Fill(amount, price, fee)
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


@dataclass(frozen=True, slots=True)
class _Fill:
    amount: Decimal
    price: Decimal
    fee: Decimal

    @property
    def notional(self) -> Decimal:
        return self.amount * self.price


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

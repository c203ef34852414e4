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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain.market_events import LeadTrade, PairSpec, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import Catalog, PairInfo, TraderInfo
from oneclick_tui.services.engine.copy_records import (
    Contended,
    FanOut,
    LeadContext,
    LeaderTotals,
    apply_fill,
    audit_row,
    decide_followers,
    fail_copy,
    finish_row,
    put_signed,
    utc_day_start,
)
from oneclick_tui.services.engine.fanout_drivers import (
    AsyncpgDriver,
    SessionDriver,
    SqliteThreadDriver,
)
from oneclick_tui.services.engine.paper_fanout import leader_position_before, paper_fanout
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

__all__ = ["CopyEngine", "FanOut", "Handoff"]

log = logging.getLogger(__name__)

CLOSING_KINDS = ("stop_loss", "manual")
"""Sells that close a position: sized to what is held when they execute."""
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


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
        self.leader_totals = LeaderTotals()
        self._paper: PaperDriver | None = (
            _paper_driver(sessions, signer) if isinstance(self.executor, PaperExecutor) else None
        )
        """Paper: each lead trade is one transaction on one connection (`paper_fanout`)."""

    async def aclose(self) -> None:
        """Release the paper fan-out's connection and thread (after the one in flight)."""
        if self._paper is not None:
            paper, self._paper = self._paper, None
            await asyncio.to_thread(paper.close)

    async def on_lead_trade(self, lead: LeadTrade) -> FanOut:
        """Record the lead trade, decide (and sign) for every follower, then execute."""
        trader = self.catalog.traders.get(lead.trader_address)
        pair = self.catalog.pairs.get(lead.pair)
        if trader is None or pair is None:
            why = "unknown trader" if trader is None else f"unknown pair {lead.pair}"
            log.warning("lead trade %s ignored: %s", lead.tx_hash, why)
            return FanOut(None, ignored=why)
        # Paper: decide, sign, fill and write in ONE transaction (a crash loses all of it, the
        # replay redoes all of it). Live: the pending rows must be durable before anything
        # is signed or submitted, so they commit first (`execute_pending` goes on from there).
        if self._paper is not None:
            try:
                steps = paper_fanout(self, self._paper.dialect, lead, trader, pair)
                lead_id, result = await self._paper.run(steps)
            except Contended:
                # another engine recorded some of these followers meanwhile: the two-step
                # path executes exactly the rows this one wrote
                lead_id, result = await self._record_and_decide(lead, trader, pair)
        else:
            lead_id, result = await self._record_and_decide(lead, trader, pair)
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
        self, lead: LeadTrade, trader: TraderInfo, pair: PairInfo
    ) -> tuple[int, FanOut]:
        """One transaction: the lead trade row, then every follower's decision, pending."""
        async with self.sessions.begin() as session:
            lead_id, _ = await cs.record_lead(session, lead, trader.id, pair.id)
            result = await self._decide_all(session, lead, lead_id, trader, pair)
        return lead_id, result

    async def _leader_position_before(
        self, session: AsyncSession, pair: PairInfo, trader_id: int, lead: LeadTrade
    ) -> Decimal:
        """`paper_fanout.leader_position_before`, its one read through the session."""
        dialect = session.get_bind().dialect.name
        steps = leader_position_before(self, dialect, trader_id, pair, lead)
        connection = await session.connection()
        rows: Any = None
        while True:
            try:
                query = steps.send(rows)
            except StopIteration as done:
                position: Decimal = done.value
                return position
            rows = (await connection.exec_driver_sql(query.sql, query.params)).all()

    def too_old(self, lead: LeadTrade) -> str | None:
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
        trader: TraderInfo,
        pair: PairInfo,
    ) -> FanOut:
        """Decide (and, on paper, sign) for every follower and write the decisions pending;
        `result.handoff` carries them to `execute_pending`."""
        spec = pair.spec
        state = await cs.fan_out_state(session, trader.id, lead_id, pair.id, spec.base, spec.quote)
        result = FanOut(lead_id)
        if not state.follows:
            return result
        limited = [f.follower_id for f in state.follows if f.daily_limit is not None]
        today = await cs.traded_since(session, limited, utc_day_start(lead.at))
        leader_before: Decimal | None = None
        if lead.side is Side.SELL:
            leader_before = await self._leader_position_before(session, pair, trader.id, lead)
        ctx = LeadContext(
            lead, lead_id, trader.id, trader.risk_category, trader.starting_balance, pair,
            leader_before, self.too_old(lead),
        )  # fmt: skip
        # live: the executor signs, once, and journals
        can_sign = self.signer.has_key if self.signer and not self.executor.live else None
        decided = decide_followers(ctx, state, today, self.books.get(lead.pair), result, can_sign)
        trades, audits = decided.trades, decided.audits
        # Signing runs in the thread pool while the copy rows are written.
        signing = self._start_signing(spec, decided.to_sign)
        try:
            await cs.insert_decisions(session, trades, [])
        finally:
            signed = await signing if signing is not None else []
        put_signed(signed, audits)
        await cs.insert_audits(session, audits)
        if result.copies:
            trade_ids = await cs.pending_ids(session, lead_id)
            slippages = [f.max_slippage_pct for f in state.follows]
            pending = [
                _pending(trade_ids[t["user_id"]], t, pair.id, slippage)
                for t, slippage in zip(trades, slippages, strict=True)
                if t["status"] == "pending" and t["user_id"] in trade_ids
            ]
            result.handoff = Handoff(pending, state.held)
        return result

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
                prepared = self.prepare(trade, now, positions)
                if isinstance(prepared, str):
                    failed += 1
                    fail_copy(trade, prepared, rows, audits, now)
                else:
                    ready.append((trade, prepared))
            outcomes = await self.executor.execute_orders([o for _, o in ready], self.journal)
            for (trade, _), outcome in zip(ready, outcomes, strict=True):
                if self.settle(trade, outcome, positions, rows, audits, now):
                    done += 1
                elif outcome.status == "failed":
                    failed += 1
            start = end
        return done, failed

    def prepare(
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

    def settle(
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
            fail_copy(trade, outcome.reason or "failed", rows, audits, now, outcome)
            return False
        pair = self._pairs_by_id[trade.pair_id]
        amount = outcome.amount if outcome.amount > 0 else trade.amount
        price = outcome.price if outcome.price is not None else trade.price or Decimal(0)
        applied = apply_fill(trade, pair, amount, price, outcome.fee, positions)
        realized: Decimal | None = None
        note: str | None = None
        if isinstance(applied, str):
            if not self.executor.live:
                fail_copy(trade, applied, rows, audits, now)
                return False
            # Landed on chain: it happened. Our mirror of the wallet disagrees; say so.
            note = f"positions not updated: {applied}"
            log.warning("copy %s completed on chain but %s", trade.id, note)
        else:
            realized = applied
        rows.append(
            finish_row(
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
        audits.append(audit_row("engine", "copy.completed", trade.id, None, after, now))
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
            prepared = self.prepare(trade, now, held)
            if isinstance(prepared, str):
                failed += 1
                fail_copy(trade, prepared, rows, audits, now)
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
                if self.settle(trade, outcome, positions, rows, audits, now):
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


def _pending(trade_id: int, t: dict[str, Any], pair_id: int, slippage: Decimal) -> cs.PendingCopy:
    return cs.PendingCopy(
        trade_id, "copy", t["user_id"], pair_id, t["trade_type"], t["amount"], t["price"],
        t["total_value"], t["created_at"], slippage,
    )  # fmt: skip


PaperDriver = SqliteThreadDriver | AsyncpgDriver | SessionDriver


def _paper_driver(
    sessions: async_sessionmaker[AsyncSession], signer: CopySigner | None
) -> PaperDriver:
    """A SQLite file gets a connection and thread of its own, PostgreSQL the asyncpg
    connection under a pooled one; anything else (in-memory SQLite) goes through sessions."""
    bind = sessions.kw.get("bind")
    assert bind is not None, "the copy engine's sessions must be bound to an engine"
    url = bind.url
    dialect = bind.dialect.name
    if dialect == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteThreadDriver(Path(url.database), signer)
    if dialect == "postgresql" and bind.dialect.driver == "asyncpg":
        return AsyncpgDriver(bind, signer)
    return SessionDriver(sessions, dialect, signer)

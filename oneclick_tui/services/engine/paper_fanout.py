"""A paper fan-out as a sequence of steps: one transaction, one connection, no I/O here.

One lead trade on paper is: the lead row, the followers' state (one read), every decision,
the copies signed, filled against the book, and every row written; then commit. The logic
is a generator that yields what it needs — a `Query` (rows or a row count sent back), `Sign`
(start signing these copies), `Signed` (wait for them) — and a driver
(`services.engine.fanout_drivers`) carries the steps out on its connection, in ONE
transaction it begins and commits (or rolls back if the generator raises).

Why: through the async session a statement on SQLite costs several thread hops (~0.5 ms
each on this machine), and a one-follower fan-out was ~48 of them. The SQLite driver runs
the whole generator on a connection and thread of its own, so a fan-out is one hop; the
session driver runs the same steps on PostgreSQL or an in-memory SQLite database. The rows
are the ones the session path writes (`copy_records`, `stores.bulk_sql`).

If some decided rows already exist (another engine recorded those followers meanwhile) the
generator raises `Contended` before anything is signed into an audit row; the driver rolls
back and the engine redoes the lead on its two-step path.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oneclick_tui.domain.market_events import LeadTrade, PairSpec, Side
from oneclick_tui.services.engine.catalog import PairInfo, TraderInfo
from oneclick_tui.services.engine.copy_records import (
    Contended,
    FanOut,
    LeadContext,
    decide_followers,
    fail_copy,
    merge_outcome_audits,
    put_signed,
    utc_day_start,
)
from oneclick_tui.services.engine.signer import CopyToSign
from oneclick_tui.services.execution.base import PaperExecutor, _Walk
from oneclick_tui.services.wallet.signing import SignedTx
from oneclick_tui.stores import copy_store as cs
from oneclick_tui.stores.bulk_sql import (
    DriverValues,
    Statement,
    audit_statements,
    combined,
    holding_statements,
    position_statements,
    trade_statements,
)

if TYPE_CHECKING:
    from oneclick_tui.services.engine.copy_engine import CopyEngine


@dataclass(frozen=True, slots=True)
class Query:
    """Run `sql`; the driver sends back its rows (`rows=True`) or its row count."""

    sql: str
    params: Sequence[Any]
    rows: bool = False


@dataclass(frozen=True, slots=True)
class Sign:
    """Start signing `copies` (off this thread); the driver sends back None."""

    spec: PairSpec
    copies: list[CopyToSign]


@dataclass(frozen=True, slots=True)
class Signed:
    """Wait for the last `Sign`; the driver sends back one `SignedTx | None` per copy."""


Step = Query | Sign | Signed
Steps = Generator[Step, Any, tuple[int, FanOut]]


def _write(statements: Sequence[Statement]) -> Generator[Step, Any, int]:
    written = 0
    for sql, params in statements:
        written += yield Query(sql, params)
    return written


def paper_fanout(
    engine: CopyEngine, dialect: str, lead: LeadTrade, trader: TraderInfo, pair: PairInfo
) -> Steps:
    """The steps of one lead trade's paper fan-out; returns (lead trade id, what it did)."""
    assert isinstance(engine.executor, PaperExecutor)
    v = DriverValues(dialect)
    spec = pair.spec
    found = yield Query(*cs.record_lead_sql(dialect, v, lead, trader.id, pair.id), rows=True)
    inserted = bool(found)
    if not found:
        found = yield Query(*cs.lead_id_sql(dialect, lead.tx_hash), rows=True)
        if not found:  # the insert conflicted, so the row exists: only a race deletes it
            raise LookupError(f"lead trade {lead.tx_hash} neither inserted nor found")
    lead_id = int(found[0][0])
    read = cs.fan_out_state_sql(
        dialect, trader.id, lead_id, pair.id, spec.base, spec.quote, with_ids=True
    )
    followers = yield Query(*read, rows=True)
    state = cs.parse_fan_out_state(dialect, followers, spec.base, spec.quote)
    result = FanOut(lead_id)
    if not state.follows:
        return lead_id, result
    today: dict[int, Decimal] = {}
    if any(f.daily_limit is not None for f in state.follows):
        day = utc_day_start(lead.at)
        rows = yield Query(*cs.traded_today_sql(dialect, v, trader.id, day), rows=True)
        today = cs.sum_per_user(dialect, rows)
    leader_before: Decimal | None = None
    if lead.side is Side.SELL:
        leader_before = yield from leader_position_before(engine, dialect, trader.id, pair, lead)
    ctx = LeadContext(
        lead, lead_id, trader.id, trader.risk_category, trader.starting_balance, pair,
        leader_before, engine.too_old(lead),
    )  # fmt: skip
    signer = engine.signer
    book = engine.books.get(lead.pair)
    decided = decide_followers(
        ctx, state, today, book, result, signer.has_key if signer is not None else None
    )
    trades, audits = decided.trades, decided.audits
    if decided.to_sign:
        # signed in the signer's threads while the rows below are built and written
        yield Sign(spec, [copy for _, copy in decided.to_sign])
    outcomes: list[dict[str, Any]] = []
    later: list[Statement] = []
    if result.copies:
        if dialect == "postgresql":  # drawn by the follower read
            ids = [int(r[-1]) for r in followers]
        else:
            ids = yield from _sqlite_ids(len(trades), lead_id if inserted else None)
        outcomes, later = _fill(engine, v, lead, pair, state, trades, ids, result)
    # The copy rows (if another engine recorded some of them, stop there), the holdings and
    # positions; then, once signed, the audit rows. The signer works meanwhile.
    writes = trade_statements(dialect, v, trades)
    if dialect == "postgresql" and len(writes) == 1:
        # one round trip for all of it; the count is the copy rows'
        count = yield Query(*combined(writes + later, count_first=True), rows=True)
        written = int(count[0][0])
    else:
        written = yield from _write(writes)
        if written == len(trades):
            yield from _write(later)
    if written != len(trades):
        raise Contended
    if decided.to_sign:
        signed: list[SignedTx | None] = yield Signed()
        put_signed([(i, tx) for (i, _), tx in zip(decided.to_sign, signed, strict=True)], audits)
    if result.copies:
        audits = merge_outcome_audits(trades, audits, outcomes)
    yield from _write(audit_statements(dialect, v, audits))
    return lead_id, result


def leader_position_before(
    engine: CopyEngine, dialect: str, trader_id: int, pair: PairInfo, lead: LeadTrade
) -> Generator[Query, Any, Decimal]:
    """The lead's base position on the pair before his sell `lead` (`LeaderTotals`: only
    the trades recorded since the last sum are read). Also driven by the session path."""
    if lead.version is None:
        return lead.amount  # no chain version: treated as his exit
    totals = engine.leader_totals
    start = totals.since(trader_id, pair.id, lead.version)
    history = cs.leader_trades_sql(dialect, trader_id, pair.id, lead.version, start)
    summed = cs.leader_sum(dialect, (yield Query(*history, rows=True)))
    return totals.position_before(trader_id, pair.id, lead, start, summed)


def _fill(
    engine: CopyEngine,
    v: DriverValues,
    lead: LeadTrade,
    pair: PairInfo,
    state: cs.FanOutState,
    trades: list[dict[str, Any]],
    ids: list[int],
    result: FanOut,
) -> tuple[list[dict[str, Any]], list[Statement]]:
    """Fill the decided copies on the book now: every copy row completed or failed in place,
    the outcome audit rows (merged into the decisions' by the caller), and the holdings and
    positions writes.

    Ids come first so a completed row carries its own simulated hash and its outcome audit
    names it. Copies are never closing sells, so one pass (no waves) is exact.
    """
    executor = engine.executor
    assert isinstance(executor, PaperExecutor)
    held = state.held
    walks: dict[tuple[str, Side, Decimal], _Walk] = {}
    rows: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    for t, trade_id, follow in zip(trades, ids, state.follows, strict=True):
        t["id"] = trade_id
        if t["status"] != "pending":
            continue
        copy = cs.PendingCopy(
            trade_id, "copy", t["user_id"], pair.id, t["trade_type"], t["amount"], t["price"],
            t["total_value"], t["created_at"], follow.max_slippage_pct,
        )  # fmt: skip
        order = engine.prepare(copy, lead.at, held)
        if isinstance(order, str):
            result.failed += 1
            fail_copy(copy, order, rows, done, lead.at)
        elif engine.settle(copy, executor.fill(order, walks), held, rows, done, lead.at):
            result.completed += 1
        else:
            result.failed += 1
    by_id = {t["id"]: t for t in trades}
    for row in rows:
        t = by_id[row["trade_id"]]
        for column in cs.FINISH_COLUMNS:
            t[column] = row["v_" + column]
    dialect = v.dialect
    deltas = cs.holding_deltas(trades)
    totals = None
    if dialect == "sqlite":
        # the totals were read in this transaction, which holds SQLite's write lock
        zero = Decimal(0)
        totals = {key: state.built.get(key[0], zero) + d for key, d in deltas.items()}
    writes = holding_statements(dialect, v, deltas, datetime.now(UTC), totals=totals)
    return done, writes + position_statements(dialect, v, held.values(), lead.at)


def _sqlite_ids(n: int, lead_id: int | None) -> Generator[Step, Any, list[int]]:
    """N fresh trade ids on SQLite: after the lead row this transaction inserted (a new
    rowid is max + 1, and the transaction holds the write lock), else after max(id)."""
    if lead_id is not None:
        start = lead_id + 1
    else:
        top = yield Query("SELECT coalesce(max(id), 0) FROM trades", (), rows=True)
        start = int(top[0][0]) + 1
    return list(range(start, start + n))

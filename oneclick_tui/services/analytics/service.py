"""The analytics use cases: recompute everything, update on each lead trade, read leaderboards.

Two paths produce the same rows (a test holds them equal):
- `recompute(since)` rebuilds trader performance for every period overlapping [since, today],
  the current leaderboards, and portfolio snapshots from `since`; on PostgreSQL it first
  refreshes the `trader_daily_activity` materialized view and lets SQL build the day table.
- `on_lead_trade(trader_id, at)` (the engine calls it after recording a lead trade) recomputes
  that trader's periods holding the trade and re-ranks the leaderboards; the ranking reads
  at most one performance row per trader and period, so it stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oneclick_tui.domain.ranking import RankMetric
from oneclick_tui.services.analytics import bulk, daily, leaderboard, portfolio
from oneclick_tui.services.analytics.performance import (
    Period,
    PeriodFigures,
    at_midnight,
    figures_for,
)
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.models import Trade, Trader, TraderPerformance, User
from oneclick_tui.stores.timeseries.base import TimeSeriesError, TimeSeriesStore

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""(stage, done, total): called as a recompute advances."""
_CHUNK = 10_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_since(today: date) -> date:
    """The oldest start among today's week and month: what a plain recompute rebuilds."""
    return min(Period.WEEKLY.start(today), Period.MONTHLY.start(today))


class AnalyticsService:
    """Trader performance, portfolio snapshots and leaderboards over one database."""

    def __init__(
        self,
        engine: AsyncEngine,
        timeseries: TimeSeriesStore,
        cache: Cache | None = None,
        *,
        min_trades: int = leaderboard.DEFAULT_MIN_TRADES,
        clock: Callable[[], datetime] = _utcnow,
        flush_interval: float = 0.0,
    ) -> None:
        self.engine = engine
        self.ts = timeseries
        self.cache = cache
        self.min_trades = min_trades
        self.clock = clock
        self.flush_interval = flush_interval
        self.is_pg = engine.dialect.name == "postgresql"
        self._lock = asyncio.Lock()
        self._pending: dict[int, datetime | None] = {}
        self._last_flush = float("-inf")

    # -- full rebuild -------------------------------------------------------------------------

    async def recompute(
        self, since: date | None = None, progress: Progress | None = None
    ) -> dict[str, int]:
        """Rebuild performance, leaderboards and portfolio snapshots from trades and candles."""
        say = progress or (lambda stage, done, total: None)
        now = self.clock()
        today = daily.day_of(now)
        since = min(since or default_since(today), today)
        async with self._lock:
            if self.is_pg:
                say("refresh activity view", 0, 1)
                async with self.engine.begin() as conn:
                    await daily.refresh_activity_view(conn)
                say("refresh activity view", 1, 1)
            periods = {
                p: p.starts_between(since, today) for p in (Period.DAILY, Period.WEEKLY,
                                                            Period.MONTHLY)
            }  # fmt: skip
            periods[Period.ALL_TIME] = [Period.ALL_TIME.start(today)]
            say("trader days", 0, 1)
            figures = await self._figures(None, periods, today)
            say("trader days", 1, 1)
            async with self.engine.begin() as conn:
                await self._replace_all(conn, periods)
                for i in range(0, len(figures), _CHUNK):
                    chunk = figures[i : i + _CHUNK]
                    await bulk.insert_rows(
                        conn, TraderPerformance.__table__, [f.row(now) for f in chunk]
                    )
                    say("trader performance", min(i + _CHUNK, len(figures)), len(figures))
            ranked = await self._rank_all(today, now, say)
            users = await self._snapshot_users(since, today, say)
        return {"performance_rows": len(figures), "leaderboard_rows": ranked, "users": users}

    async def _replace_all(
        self, conn: AsyncConnection, periods: Mapping[Period, Sequence[date]]
    ) -> None:
        for period, starts in periods.items():
            await conn.execute(
                delete(TraderPerformance).where(
                    TraderPerformance.period == period.value,
                    TraderPerformance.period_start_at.in_([at_midnight(s) for s in starts]),
                )
            )

    # -- incremental --------------------------------------------------------------------------

    async def on_lead_trade(self, trader_id: int, at: datetime | None = None) -> bool:
        """A lead trade of ``trader_id`` was recorded: update his periods and the rankings.

        With ``flush_interval`` > 0 the trader is only queued when the last update is more
        recent than that, and `flush` (or `run_periodic`) does it; returns True if it updated.
        """
        if trader_id not in self._pending:
            self._pending[trader_id] = at
        elif at is not None:  # keep the oldest trade time: its periods need recomputing
            known = self._pending[trader_id]
            self._pending[trader_id] = at if known is None else min(at, known)
        loop_now = asyncio.get_running_loop().time()
        if self.flush_interval and loop_now - self._last_flush < self.flush_interval:
            return False
        await self.flush()
        return True

    async def flush(self) -> int:
        """Update every queued trader now; returns how many."""
        pending, self._pending = self._pending, {}
        self._last_flush = asyncio.get_running_loop().time()
        if not pending:
            return 0
        by_day: dict[date | None, list[int]] = {}
        for trader_id, at in pending.items():
            by_day.setdefault(None if at is None else daily.day_of(at), []).append(trader_id)
        for day, ids in sorted(by_day.items(), key=lambda item: item[0] or date.max):
            await self.refresh_traders(ids, None if day is None else daily.at_noon(day))
        return len(pending)

    async def run_periodic(
        self, stop: asyncio.Event, *, every: float = 300.0, tick: float = 2.0
    ) -> None:
        """The schedule: flush queued traders every ``tick`` s, and every ``every`` s re-mark
        everybody at the latest closes (traders who did not trade move with the market too),
        rebuild the boards and refresh the users' snapshots of yesterday and today."""
        loop = asyncio.get_running_loop()
        last_full = float("-inf")
        while not stop.is_set():
            try:
                if loop.time() - last_full >= every:
                    today = daily.day_of(self.clock())
                    await self.recompute(since=today - daily.ONE_DAY)
                    last_full = loop.time()
                else:
                    await self.flush()
            except TimeSeriesError as exc:  # candles unreachable (InfluxDB down): say so once
                log.warning("analytics update skipped: %s", exc)
            except Exception:  # the schedule outlives one failed run; the next one retries
                log.exception("analytics update failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick)

    async def refresh_traders(self, trader_ids: Iterable[int], at: datetime | None = None) -> None:
        """Recompute the periods holding ``at`` (default now) and today for these traders."""
        ids = sorted(set(trader_ids))
        now = self.clock()
        today = daily.day_of(now)
        day = min(daily.day_of(at), today) if at is not None else today
        periods = {p: sorted({p.start(day), p.start(today)}) for p in Period}
        async with self._lock:
            figures = await self._figures(ids, periods, today)
            async with self.engine.begin() as conn:
                for period, starts in periods.items():
                    await conn.execute(
                        delete(TraderPerformance).where(
                            TraderPerformance.trader_id.in_(ids),
                            TraderPerformance.period == period.value,
                            TraderPerformance.period_start_at.in_([at_midnight(s) for s in starts]),
                        )
                    )
                await bulk.insert_rows(
                    conn, TraderPerformance.__table__, [f.row(now) for f in figures]
                )
            await self._rank_all(today, now, None)

    # -- shared steps -------------------------------------------------------------------------

    async def _figures(
        self, ids: Sequence[int] | None, periods: Mapping[Period, Sequence[date]], today: date
    ) -> list[PeriodFigures]:
        async with self.engine.connect() as conn:
            query = (
                select(Trade.pair_id, func.min(Trade.executed_at))
                .where(Trade.kind == "lead", Trade.status == "completed")
                .group_by(Trade.pair_id)
            )
            if ids is not None:
                query = query.where(Trade.trader_id.in_(ids))
            spans = (await conn.execute(query)).all()
            balances_q = select(Trader.id, Trader.starting_balance)
            if ids is not None:
                balances_q = balances_q.where(Trader.id.in_(ids))
            balances = {r[0]: r[1] or Decimal(0) for r in (await conn.execute(balances_q)).all()}
        firsts = [r[1] for r in spans if r[1] is not None]
        if not firsts:
            return []
        first = daily.day_of(min(firsts))
        closes = await daily.load_closes(self.ts, [r[0] for r in spans], first, today)
        async with self.engine.connect() as conn:
            if self.is_pg:
                days = await daily.pg_trader_days(conn, closes, today, ids)
            else:
                days = await daily.python_trader_days(conn, closes, today, ids)
        return figures_for(days, balances, periods, today)

    async def _rank_all(self, today: date, now: datetime, say: Progress | None) -> int:
        total = len(Period) * len(RankMetric)
        done = rows = 0
        async with self.engine.begin() as conn:
            names = await leaderboard.trader_names(conn)
            for period in Period:
                for metric in RankMetric:
                    entries = await leaderboard.rebuild(
                        conn, self.cache, period, metric, period.start(today), now,
                        min_trades=self.min_trades, names=names,
                    )  # fmt: skip
                    rows += len(entries)
                    done += 1
                    if say is not None:
                        say("leaderboards", done, total)
        return rows

    async def _snapshot_users(self, since: date, today: date, say: Progress) -> int:
        async with self.engine.connect() as conn:
            users = (await conn.execute(select(User.id, User.created_at).order_by(User.id))).all()
            pairs = await portfolio.load_pairs(conn)
        if not users:
            return 0
        closes = await daily.load_closes(self.ts, [p.id for p in pairs], since, today)
        for i, (user_id, created) in enumerate(users, start=1):
            await self.snapshot_user(user_id, created, since, today, pairs, closes)
            say("portfolios", i, len(users))
        return len(users)

    async def snapshot_user(
        self,
        user_id: int,
        created: datetime,
        first: date,
        last: date,
        pairs: Sequence[portfolio.PairRef] | None = None,
        closes: Mapping[int, Mapping[date, Decimal]] | None = None,
    ) -> int:
        """Rebuild one user's daily snapshots in [first, last]; returns rows written."""
        async with self.engine.begin() as conn:
            if pairs is None:
                pairs = await portfolio.load_pairs(conn)
            book = await portfolio.load_book(conn, user_id, created)
            start = max(first, book.created)
            if closes is None or book.created < first:
                closes = await daily.load_closes(self.ts, [p.id for p in pairs], book.created, last)
            rows = portfolio.snapshots(book, pairs, closes, start, last)
            await portfolio.store(conn, user_id, rows, first)
        return len(rows)

    async def snapshot_today(self, user_id: int) -> int:
        """The scheduled job: refresh yesterday's (now final) and today's snapshots."""
        today = daily.day_of(self.clock())
        async with self.engine.connect() as conn:
            created = await conn.scalar(select(User.created_at).where(User.id == user_id))
        if created is None:
            return 0
        return await self.snapshot_user(user_id, created, today - daily.ONE_DAY, today)

    # -- reads --------------------------------------------------------------------------------

    async def leaderboard(
        self, period: Period, metric: RankMetric, n: int = 100
    ) -> list[leaderboard.LeaderboardEntry]:
        """Top ``n`` from the cache, or from the table when the cache is cold."""
        if self.cache is not None:
            cached = await leaderboard.read_top(self.cache, period, metric, n)
            if cached:
                return cached
        today = daily.day_of(self.clock())
        async with self.engine.connect() as conn:
            return await leaderboard.read_stored(conn, period, metric, period.start(today), n)

    async def performance(self, trader_id: int) -> list[dict[str, object]]:
        """The trader's current rows, one per period (for a trader card)."""
        today = daily.day_of(self.clock())
        tp = TraderPerformance
        cond = or_(*(
            and_(tp.period == p.value, tp.period_start_at == at_midnight(p.start(today)))
            for p in Period
        ))  # fmt: skip
        async with self.engine.connect() as conn:
            rows = (
                (await conn.execute(select(tp).where(tp.trader_id == trader_id, cond)))
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

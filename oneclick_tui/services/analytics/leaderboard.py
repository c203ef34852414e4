"""Leaderboards: rank the current period's performance rows, store them, serve them from cache.

Ties: `domain.ranking` gives tied traders one competition rank ("1224"), but the table keeps
UNIQUE(period, metric, rank). So `rank` stores the row's position (ties broken by trader id,
the order `rank_traders` already lists them in) and `competition_rank` the shared rank users
see; `previous_rank` is the competition rank in the ranking this one replaced (NULL = new).

The cache holds one sorted set per (period, metric) with the float score (it only orders;
the exact Decimal stays in the table), a hash with each entry's display fields, and a
ready-ranked snapshot of the top `TOP_SNAPSHOT` entries as one JSON value. The screen asks
for the top 100 many times a second, so that read is one GET and one parse; deeper reads take
the sorted set and the hash (two round trips) and recompute the tie ranks from the scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from oneclick_tui.domain.ranking import (
    Movement,
    RankedTrader,
    RankMetric,
    TraderStats,
    rank_changes,
    rank_traders,
)
from oneclick_tui.services.analytics import bulk
from oneclick_tui.services.analytics.performance import Period, at_midnight
from oneclick_tui.stores.cache.base import Cache, json_dumps, json_loads
from oneclick_tui.stores.models import Leaderboard, Trader, TraderPerformance

DEFAULT_MIN_TRADES = 3
"""Trades in the period a trader needs to be ranked."""

# Which performance column each metric reads.
METRIC_COLUMNS: Mapping[RankMetric, str] = {
    RankMetric.RETURN_PCT: "percentage_return",
    RankMetric.SHARPE: "sharpe_ratio",
    RankMetric.PNL: "total_return",
    RankMetric.WIN_RATE: "win_rate",
    RankMetric.MAX_DRAWDOWN: "max_drawdown",
}


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    """One row as the UI and the CLI show it."""

    rank: int
    """Competition rank (ties share it)."""
    position: int
    trader_id: int
    trader: str
    score: Decimal
    trades: int
    previous_rank: int | None
    movement: str
    places: int


def key(period: Period, metric: RankMetric) -> str:
    return f"lb:{period.value}:{metric.value}"


def info_key(period: Period, metric: RankMetric) -> str:
    return f"lbinfo:{period.value}:{metric.value}"


def top_key(period: Period, metric: RankMetric) -> str:
    return f"lbtop:{period.value}:{metric.value}"


TOP_SNAPSHOT = 250
"""How many ranked entries the one-GET snapshot holds (the screen shows 100)."""


async def current_stats(
    conn: AsyncConnection, period: Period, period_start: date
) -> list[TraderStats]:
    """Every trader's stats for the period starting at ``period_start``."""
    p = TraderPerformance
    rows = (
        await conn.execute(
            select(
                p.trader_id,
                p.num_trades,
                p.percentage_return,
                p.total_return,
                p.sharpe_ratio,
                p.win_rate,
                p.max_drawdown,
            ).where(p.period == period.value, p.period_start_at == at_midnight(period_start))
        )
    ).all()
    # Every score stays the stored Decimal, so ties and order match SQL's RANK() exactly
    # (a float could merge two 19-digit values); `rank_traders` compares Decimals as well.
    return [
        TraderStats(
            trader_id=str(r[0]),
            trades=r[1],
            return_pct=r[2],
            pnl=r[3],
            sharpe=r[4],  # type: ignore[arg-type]
            win_rate=r[5],  # type: ignore[arg-type]
            max_drawdown=r[6],  # type: ignore[arg-type]
        )
        for r in rows
    ]


def _sort_key(trader_id: str) -> str:
    """Trader ids are integers; pad them so ``rank_traders``' text tie-break is numeric."""
    return trader_id.zfill(20)


async def rebuild(
    conn: AsyncConnection,
    cache: Cache | None,
    period: Period,
    metric: RankMetric,
    period_start: date,
    now: datetime,
    *,
    min_trades: int = DEFAULT_MIN_TRADES,
    names: Mapping[int, str] | None = None,
) -> list[LeaderboardEntry]:
    """Rank, replace the stored rows (keeping the previous ranks) and refresh the cache."""
    stats = await current_stats(conn, period, period_start)
    padded = [
        TraderStats(_sort_key(s.trader_id), s.trades, s.return_pct, s.pnl, s.sharpe,
                    s.win_rate, s.max_drawdown)
        for s in stats
    ]  # fmt: skip
    trades = {_sort_key(s.trader_id): s.trades for s in stats}
    ranked = rank_traders(padded, metric, min_trades=min_trades)
    previous = await _stored(conn, period, metric)
    changes = rank_changes(ranked, previous)
    if names is None:
        names = await trader_names(conn)
    await conn.execute(
        delete(Leaderboard).where(
            Leaderboard.period == period.value, Leaderboard.metric == metric.value
        )
    )
    entries: list[LeaderboardEntry] = []
    rows: list[dict[str, Any]] = []
    for position, (row, change) in enumerate(zip(ranked, changes, strict=True), start=1):
        trader_id = int(row.trader_id)
        score = Decimal(row.score) if not isinstance(row.score, Decimal) else row.score
        rows.append(
            {
                "period": period.value,
                "metric": metric.value,
                "rank": position,
                "competition_rank": row.rank,
                "previous_rank": change.previous_rank,
                "trader_id": trader_id,
                "score": score,
                "updated_at": now,
            }
        )
        entries.append(
            LeaderboardEntry(row.rank, position, trader_id, names.get(trader_id, "?"), score,
                             trades[row.trader_id], change.previous_rank,
                             change.movement.value, change.places)
        )  # fmt: skip
    await bulk.insert_rows(conn, Leaderboard.__table__, rows)
    if cache is not None:
        await publish(cache, period, metric, entries)
    return entries


async def trader_names(conn: AsyncConnection) -> dict[int, str]:
    return dict((await conn.execute(select(Trader.id, Trader.display_name))).all())


async def _stored(conn: AsyncConnection, period: Period, metric: RankMetric) -> list[RankedTrader]:
    rows = (
        await conn.execute(
            select(Leaderboard.competition_rank, Leaderboard.trader_id, Leaderboard.score)
            .where(Leaderboard.period == period.value, Leaderboard.metric == metric.value)
            .order_by(Leaderboard.rank)
        )
    ).all()
    return [RankedTrader(r[0], _sort_key(str(r[1])), r[2]) for r in rows]


async def publish(
    cache: Cache, period: Period, metric: RankMetric, entries: Sequence[LeaderboardEntry]
) -> None:
    """Replace the cached ranking without an empty moment: add/re-score, then drop leavers."""
    zkey, ikey = key(period, metric), info_key(period, metric)
    old_info = await cache.hgetall(ikey)
    fresh = {
        str(e.trader_id): json_dumps(
            {"trader": e.trader, "trades": e.trades, "previous_rank": e.previous_rank,
             "movement": e.movement, "places": e.places, "score": e.score}
        ).decode()
        for e in entries
    }  # fmt: skip
    if entries:
        # Scores first (the order readers see), then only the display fields that changed.
        await cache.zadd_many(zkey, {str(e.trader_id): float(e.score) for e in entries})
        changed = {k: v for k, v in fresh.items() if old_info.get(k) != v}
        if changed:
            await cache.hset_many(ikey, changed)
    members = {member for member, _ in await cache.ztop(zkey, len(fresh) + len(old_info) + 1)}
    leavers = (members | set(old_info)) - set(fresh)
    if leavers:
        await cache.zrem(zkey, *leavers)
        await cache.hdel(ikey, *leavers)
    await cache.set(top_key(period, metric), _snapshot(entries[:TOP_SNAPSHOT]))


def _snapshot(entries: Sequence[LeaderboardEntry]) -> bytes:
    """Entries as compact JSON rows (field order of `LeaderboardEntry`; score as text)."""
    return json_dumps(
        [[e.rank, e.position, e.trader_id, e.trader, str(e.score), e.trades,
          e.previous_rank, e.movement, e.places] for e in entries]
    )  # fmt: skip


def _from_snapshot(raw: bytes, n: int) -> list[LeaderboardEntry]:
    return [
        LeaderboardEntry(r[0], r[1], r[2], r[3], Decimal(r[4]), r[5], r[6], r[7], r[8])
        for r in json_loads(raw)[:n]
    ]


async def read_top(
    cache: Cache, period: Period, metric: RankMetric, n: int = 100
) -> list[LeaderboardEntry]:
    """Top ``n`` from the cache, best first, with competition ranks and movement."""
    if n <= TOP_SNAPSHOT:
        raw = await cache.get(top_key(period, metric))
        if raw is not None:
            return _from_snapshot(raw, n)
    descending = not metric.ascending
    top = await cache.ztop(key(period, metric), n, descending=descending)
    if not top:
        return []
    info = await cache.hgetall(info_key(period, metric))
    rows: list[tuple[int, Decimal, dict[str, Any]]] = []
    for member, score in top:
        meta = json_loads(info[member]) if member in info else {}
        exact = Decimal(meta["score"]) if "score" in meta else Decimal(repr(score))
        rows.append((int(member), exact, meta))
    # The sorted set orders ties by member text; list them by trader id like the table does,
    # and tie on the exact score, not its float.
    rows.sort(key=lambda r: ((-r[1] if descending else r[1]), r[0]))
    out: list[LeaderboardEntry] = []
    for position, (trader_id, exact, meta) in enumerate(rows, start=1):
        tied = bool(out) and out[-1].score == exact
        rank = out[-1].rank if tied else position
        out.append(
            LeaderboardEntry(rank, position, trader_id, meta.get("trader", "?"), exact,
                             meta.get("trades", 0), meta.get("previous_rank"),
                             meta.get("movement", Movement.NEW.value), meta.get("places", 0))
        )  # fmt: skip
    return out


async def read_stored(
    conn: AsyncConnection, period: Period, metric: RankMetric, period_start: date, n: int = 100
) -> list[LeaderboardEntry]:
    """Top ``n`` from the table (when the cache is cold, e.g. a fresh in-process cache)."""
    lb, tp = Leaderboard, TraderPerformance
    rows = (
        await conn.execute(
            select(lb.competition_rank, lb.rank, lb.trader_id, Trader.display_name, lb.score,
                   lb.previous_rank, tp.num_trades)
            .join(Trader, Trader.id == lb.trader_id)
            .outerjoin(tp, (tp.trader_id == lb.trader_id) & (tp.period == lb.period)
                       & (tp.period_start_at == at_midnight(period_start)))
            .where(lb.period == period.value, lb.metric == metric.value)
            .order_by(lb.rank)
            .limit(n)
        )
    ).all()  # fmt: skip
    out = []
    for r in rows:
        prev = r[5]
        places = 0 if prev is None else prev - r[0]
        movement = (
            Movement.NEW if prev is None
            else Movement.UP if places > 0 else Movement.DOWN if places < 0 else Movement.SAME
        )  # fmt: skip
        out.append(
            LeaderboardEntry(r[0], r[1], r[2], r[3], r[4], r[6] or 0, prev, movement.value, places)
        )
    return out

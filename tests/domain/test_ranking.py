"""Leaderboard ranking: metric direction, qualification, ties and rank changes."""

from __future__ import annotations

import math
import random
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from oneclick_tui.domain.ranking import (
    Movement,
    RankedTrader,
    RankMetric,
    TraderStats,
    dropped_out,
    rank_changes,
    rank_traders,
)

D = Decimal

STATS = [
    TraderStats("carol", trades=5, return_pct=D("0.10"), pnl=D(50), max_drawdown=0.20),
    TraderStats("bob", trades=5, return_pct=D("0.20"), pnl=D(80), max_drawdown=0.05),
    TraderStats("alice", trades=5, return_pct=D("0.10"), pnl=D(-5), max_drawdown=0.10),
    TraderStats("dave", trades=1, return_pct=D("0.90"), pnl=D(900), max_drawdown=0.0),
    TraderStats("erin", trades=9, return_pct=None, pnl=D(10), max_drawdown=math.nan),
]


def rows(ranked: list[RankedTrader]) -> list[tuple[int, str]]:
    return [(r.rank, r.trader_id) for r in ranked]


def test_return_pct_default_with_min_trades_and_competition_ties() -> None:
    ranked = rank_traders(STATS, min_trades=3)
    # dave has too few trades, erin has no return; alice and carol tie, listed by id
    assert rows(ranked) == [(1, "bob"), (2, "alice"), (2, "carol")]
    assert ranked[0].score == D("0.20")


def test_tie_followed_by_skipped_rank() -> None:
    ranked = rank_traders(STATS, RankMetric.PNL, min_trades=0)
    assert rows(ranked) == [(1, "dave"), (2, "bob"), (3, "carol"), (4, "erin"), (5, "alice")]
    tied = [TraderStats(t, 3, return_pct=D(s)) for t, s in [("x", "1"), ("y", "1"), ("z", "0")]]
    assert rows(rank_traders(tied)) == [(1, "x"), (1, "y"), (3, "z")]


def test_max_drawdown_ranks_ascending_and_skips_nan() -> None:
    ranked = rank_traders(STATS, RankMetric.MAX_DRAWDOWN, min_trades=1)
    assert rows(ranked) == [(1, "dave"), (2, "bob"), (3, "alice"), (4, "carol")]


def test_rank_changes_and_dropped_out() -> None:
    previous = [RankedTrader(1, "a", 3.0), RankedTrader(2, "b", 2.0), RankedTrader(3, "c", 1.0)]
    current = [RankedTrader(1, "b", 5.0), RankedTrader(2, "a", 4.0), RankedTrader(3, "d", 1.0)]
    changes = {c.trader_id: c for c in rank_changes(current, previous)}
    assert (changes["b"].movement, changes["b"].places, changes["b"].previous_rank) == (
        Movement.UP,
        1,
        2,
    )
    assert (changes["a"].movement, changes["a"].places) == (Movement.DOWN, -1)
    assert (changes["d"].movement, changes["d"].places, changes["d"].previous_rank) == (
        Movement.NEW,
        0,
        None,
    )
    assert rank_changes(previous, previous)[0].movement is Movement.SAME
    assert dropped_out(current, previous) == ["c"]


stats_st = st.lists(
    st.builds(
        TraderStats,
        trader_id=st.text(alphabet="abcdefgh", min_size=1, max_size=3),
        trades=st.integers(min_value=0, max_value=10),
        sharpe=st.none() | st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]),
    ),
    max_size=25,
    unique_by=lambda s: s.trader_id,
)


@given(stats_st, st.integers(min_value=0, max_value=5), st.randoms())
def test_rank_is_one_plus_number_strictly_better(
    stats: list[TraderStats], min_trades: int, rnd: random.Random
) -> None:
    ranked = rank_traders(stats, RankMetric.SHARPE, min_trades=min_trades)
    eligible = [s for s in stats if s.trades >= min_trades and s.sharpe is not None]
    assert {r.trader_id for r in ranked} == {s.trader_id for s in eligible}
    for row in ranked:
        better = sum(1 for s in eligible if s.sharpe is not None and s.sharpe > row.score)
        assert row.rank == 1 + better
    # deterministic: input order does not matter; ties listed by id
    shuffled = list(stats)
    rnd.shuffle(shuffled)
    assert rank_traders(shuffled, RankMetric.SHARPE, min_trades=min_trades) == ranked
    keys = [(-float(r.score), r.trader_id) for r in ranked]
    assert keys == sorted(keys)

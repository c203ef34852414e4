"""Candles: bucketing, late/out-of-order trades, and equality with an independent computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneclick_tui.domain.candles import Candle, CandleAggregator, CandleError, Timeframe
from oneclick_tui.domain.market_events import MarketTrade, Side

T0 = datetime(2026, 3, 1, 23, 58, tzinfo=UTC)


def test_bucket_starts_are_utc_boundaries() -> None:
    at = datetime(2026, 3, 1, 13, 47, 31, 5, tzinfo=timezone(timedelta(hours=2)))
    assert Timeframe.M1.bucket_start(at) == datetime(2026, 3, 1, 11, 47, tzinfo=UTC)
    assert Timeframe.M5.bucket_start(at) == datetime(2026, 3, 1, 11, 45, tzinfo=UTC)
    assert Timeframe.H1.bucket_start(at) == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert Timeframe.D1.bucket_start(at) == datetime(2026, 3, 1, tzinfo=UTC)


def test_late_trade_lands_in_its_candle_and_fixes_open() -> None:
    agg = CandleAggregator((Timeframe.M1,))
    agg.add("APT/USDC", D("10"), D("1"), T0 + timedelta(seconds=30))
    agg.add("APT/USDC", D("11"), D("1"), T0 + timedelta(seconds=70))  # next minute
    changed = agg.add("APT/USDC", D("9"), D("2"), T0 + timedelta(seconds=5))  # late
    assert len(changed) == 1
    c = changed[0]
    assert c.start == T0 and c.open == D("9") and c.close == D("10")
    assert (c.high, c.low, c.volume, c.trade_count) == (D("10"), D("9"), D("3"), 2)
    assert c.vwap == (D("10") + D("18")) / 3
    assert [x.close for x in agg.candles("APT/USDC", Timeframe.M1)] == [D("10"), D("11")]


def test_add_trade_emits_one_candle_per_timeframe_and_rejects_naive_time() -> None:
    agg = CandleAggregator()
    trade = MarketTrade("APT/USDC", 1, Side.BUY, D("10"), D("1"), T0)
    assert {c.timeframe for c in agg.add_trade(trade)} == set(Timeframe)
    with pytest.raises(CandleError):
        agg.add("APT/USDC", D("10"), D("1"), datetime(2026, 1, 1))
    with pytest.raises(CandleError):
        agg.add("APT/USDC", D("-1"), D("1"), T0)
    assert agg.evict_before(T0 + timedelta(days=2)) == 4


def reference(trades: list[tuple[datetime, D, D]], tf: Timeframe) -> dict[datetime, tuple]:
    """Group, then sort each bucket by (time, arrival): open first, close last."""
    out: dict[datetime, list[tuple[datetime, int, D, D]]] = {}
    for i, (at, price, size) in enumerate(trades):
        epoch = int(at.timestamp())
        width = int(tf.width.total_seconds())
        start = datetime.fromtimestamp(epoch - epoch % width, UTC)
        out.setdefault(start, []).append((at, i, price, size))
    result = {}
    for start, rows in out.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        ps = [r[2] for r in rows]
        result[start] = (
            ps[0], max(ps), min(ps), ps[-1],
            sum(r[3] for r in rows), sum(r[2] * r[3] for r in rows), len(rows),
        )  # fmt: skip
    return result


trade_rows = st.lists(
    st.tuples(
        st.integers(0, 3 * 86_400).map(lambda s: T0 + timedelta(seconds=s)),
        st.integers(1, 10_000).map(lambda p: D(p) / 100),
        st.integers(0, 1_000).map(lambda q: D(q) / 10),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(trade_rows)
def test_matches_independent_computation(trades: list[tuple[datetime, D, D]]) -> None:
    agg = CandleAggregator()
    latest: dict[tuple[Timeframe, datetime], Candle] = {}
    for at, price, size in trades:
        for c in agg.add("X", price, size, at):
            latest[(c.timeframe, c.start)] = c
    for tf in Timeframe:
        expected = reference(trades, tf)
        got = {
            c.start: (c.open, c.high, c.low, c.close, c.volume, c.quote_volume, c.trade_count)
            for c in agg.candles("X", tf)
        }
        assert got == expected
        assert {s: latest[(tf, s)] for s in expected} == {c.start: c for c in agg.candles("X", tf)}

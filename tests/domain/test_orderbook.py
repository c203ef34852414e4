"""Order book: sequencing/resync rules, validation, and queries vs a naive reference."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneclick_tui.domain.market_events import BookDelta, BookSide, BookSnapshot, Side
from oneclick_tui.domain.orderbook import (
    DeltaStatus,
    InvalidLevelError,
    OrderBook,
    OrderBookError,
    PairMismatchError,
)

BID, ASK = BookSide.BID, BookSide.ASK
AT = datetime(2026, 1, 1, tzinfo=UTC)


def make_book() -> OrderBook:
    book = OrderBook("APT/USDC", tick_size=D("0.01"))
    book.load(
        10,
        [(D("9.99"), D("5")), (D("9.98"), D("10")), (D("9.95"), D("20"))],
        [(D("10.01"), D("4")), (D("10.02"), D("6")), (D("10.05"), D("30"))],
    )
    return book


def test_queries_on_a_known_book() -> None:
    book = make_book()
    assert book.best_bid() == (D("9.99"), D("5"))
    assert book.best_ask() == (D("10.01"), D("4"))
    assert book.spread() == D("0.02")
    assert book.mid() == D("10.00")
    assert book.bids(2) == [(D("9.99"), D("5")), (D("9.98"), D("10"))]
    assert book.asks(1) == [(D("10.01"), D("4"))]
    band = book.depth_within(D("0.2"))  # 9.98 .. 10.02
    assert band is not None
    assert (band.bid_size, band.ask_size) == (D("15"), D("10"))
    assert band.ask_notional == D("10.01") * 4 + D("10.02") * 6


def test_fill_walks_the_book_and_reports_slippage() -> None:
    book = make_book()
    est = book.estimate_fill(Side.BUY, D("7"))
    assert est.filled == D("7") and not est.exhausted
    assert est.notional == D("10.01") * 4 + D("10.02") * 3
    assert est.avg_price == est.notional / 7
    assert est.worst_price == D("10.02") and est.levels_used == 2
    assert est.slippage_vs_mid == (est.notional / 7 - D("10")) / D("10")
    assert est.slippage_vs_best is not None and est.slippage_vs_best > 0
    sell = book.estimate_fill(Side.SELL, D("100"))
    assert sell.exhausted and sell.filled == D("35")
    assert sell.slippage_vs_mid is not None and sell.slippage_vs_mid > 0


def test_deltas_update_remove_and_add() -> None:
    book = make_book()
    assert book.apply(11, BID, D("9.99"), D("0")) is DeltaStatus.APPLIED
    assert book.apply(12, ASK, D("10.00"), D("1")) is DeltaStatus.APPLIED
    assert book.apply(13, BID, D("9.98"), D("11")) is DeltaStatus.APPLIED
    assert book.best_bid() == (D("9.98"), D("11"))
    assert book.best_ask() == (D("10.00"), D("1"))
    assert book.apply(14, BID, D("9.90"), D("0")) is DeltaStatus.APPLIED  # absent: no-op
    assert book.seq == 14


def test_gap_needs_resync_until_snapshot() -> None:
    book = make_book()
    assert book.apply(12, BID, D("9.97"), D("1")) is DeltaStatus.GAP
    assert book.needs_resync and book.gaps == 1
    assert book.apply(13, BID, D("9.97"), D("1")) is DeltaStatus.NEEDS_RESYNC
    assert book.best_bid() == (D("9.99"), D("5"))  # nothing applied after the gap
    snap = BookSnapshot("APT/USDC", 20, ((D("9.00"), D("1")),), ((D("9.50"), D("1")),), AT)
    assert book.apply_snapshot(snap) is DeltaStatus.APPLIED
    assert not book.needs_resync and book.resyncs == 1
    delta = BookDelta("APT/USDC", 21, BID, D("9.10"), D("2"), AT)
    assert book.apply_delta(delta) is DeltaStatus.APPLIED
    assert book.best_bid() == (D("9.10"), D("2"))


def test_stale_delta_is_ignored_not_a_gap() -> None:
    book = make_book()
    assert book.apply(10, BID, D("9.97"), D("1")) is DeltaStatus.STALE
    assert book.stale == 1 and not book.needs_resync


def test_crossing_delta_is_rejected_and_forces_resync() -> None:
    book = make_book()
    assert book.apply(11, BID, D("10.01"), D("1")) is DeltaStatus.CROSSED
    assert book.crosses == 1 and book.needs_resync
    assert book.best_bid() == (D("9.99"), D("5"))
    crossed = book.load(30, [(D("10"), D("1"))], [(D("9"), D("1"))])
    assert crossed is DeltaStatus.CROSSED and book.needs_resync


def test_batch_stops_at_first_problem() -> None:
    book = make_book()
    rows = [(11, BID, D("9.97"), D("1")), (12, ASK, D("10.03"), D("2")), (14, BID, D("1"), D("1"))]
    assert book.apply_many(rows) == (2, DeltaStatus.GAP)
    assert book.seq == 12 and book.needs_resync


@pytest.mark.parametrize(
    ("price", "size"),
    [
        (D("9.97"), D("-1")),
        (D("9.97"), D("NaN")),
        (D("9.97"), D("Infinity")),
        (D("0"), D("1")),
        (D("9.975"), D("1")),  # off tick
        (D("9.97"), 1.0),
        ("9.97", D("1")),
    ],
)
def test_bad_levels_raise_typed_errors(price: object, size: object) -> None:
    book = make_book()
    with pytest.raises(InvalidLevelError):
        book.apply(11, BID, price, size)  # type: ignore[arg-type]
    with pytest.raises(InvalidLevelError):
        book.apply_many([(11, BID, price, size)])  # type: ignore[list-item]
    assert book.seq == 10


def test_tick_is_checked_on_new_levels_and_absent_removals() -> None:
    book = make_book()
    with pytest.raises(InvalidLevelError, match="tick"):
        book.apply(11, ASK, D("10.035"), D("0"))
    assert book.apply(11, ASK, D("10.030"), D("0")) is DeltaStatus.APPLIED  # on tick, absent
    assert book.apply(12, ASK, D("10.0200"), D("9")) is DeltaStatus.APPLIED  # same level
    assert book.asks(2) == [(D("10.01"), D("4")), (D("10.02"), D("9"))]


def test_needs_resync_before_first_snapshot_and_counters() -> None:
    book = OrderBook("X")
    assert book.needs_resync
    assert book.apply(1, BID, D("1"), D("1")) is DeltaStatus.NEEDS_RESYNC
    assert book.apply_many([(1, BID, D("1"), D("1"))]) == (0, DeltaStatus.NEEDS_RESYNC)
    assert book.rejected == 2 and book.best_bid() is None and book.mid() is None
    assert book.depth_within(D("1")) is None and book.spread() is None


def test_wrong_pair_and_bad_order_size() -> None:
    book = make_book()
    with pytest.raises(PairMismatchError):
        book.apply_delta(BookDelta("WETH/USDC", 11, BID, D("1"), D("1"), AT))
    with pytest.raises(OrderBookError):
        book.estimate_fill(Side.BUY, D("0"))


# ---------------------------------------------------------------- reference model
class NaiveBook:
    """Plain dicts, sorted on every query: obviously right, slow."""

    def __init__(self) -> None:
        self.bids: dict[D, D] = {}
        self.asks: dict[D, D] = {}

    def apply(self, side: BookSide, price: D, size: D) -> bool:
        levels = self.bids if side is BID else self.asks
        if size == 0:
            levels.pop(price, None)
            return True
        if price not in levels:
            if side is BID and self.asks and price >= min(self.asks):
                return False
            if side is ASK and self.bids and price <= max(self.bids):
                return False
        levels[price] = size
        return True

    def top(self, side: BookSide, n: int) -> list[tuple[D, D]]:
        levels = self.bids if side is BID else self.asks
        return sorted(levels.items(), reverse=side is BID)[:n]

    def fill(self, side: Side, size: D) -> tuple[D, D]:
        left, filled, notional = size, D(0), D(0)
        for price, qty in self.top(ASK if side is Side.BUY else BID, 10**9):
            take = min(left, qty)
            filled, notional, left = filled + take, notional + price * take, left - take
            if not left:
                break
        return filled, notional

    def depth(self, pct: D) -> tuple[D, D] | None:
        if not self.bids or not self.asks:
            return None
        mid = (max(self.bids) + min(self.asks)) / 2
        low, high = mid * (1 - pct / 100), mid * (1 + pct / 100)
        return (
            sum((q for p, q in self.bids.items() if p >= low), D(0)),
            sum((q for p, q in self.asks.items() if p <= high), D(0)),
        )


prices = st.integers(min_value=1, max_value=60).map(lambda t: D(t) / 100)
sizes = st.one_of(st.just(D(0)), st.integers(min_value=1, max_value=500).map(lambda q: D(q) / 10))
deltas = st.lists(st.tuples(st.sampled_from([BID, ASK]), prices, sizes), max_size=80)


@settings(max_examples=150, deadline=None)
@given(deltas, st.integers(1, 10), st.integers(1, 400).map(lambda q: D(q) / 10), st.booleans())
def test_matches_naive_reference(
    rows: list[tuple[BookSide, D, D]], n: int, order: D, batch: bool
) -> None:
    book, ref = OrderBook("X", tick_size=D("0.01")), NaiveBook()
    book.load(0, [], [])
    for seq, (side, price, size) in enumerate(rows, start=1):
        if not ref.apply(side, price, size):
            if batch:
                assert book.apply_many([(seq, side, price, size)]) == (0, DeltaStatus.CROSSED)
            else:
                assert book.apply(seq, side, price, size) is DeltaStatus.CROSSED
            assert book.needs_resync
            book.load(seq, list(ref.bids.items()), list(ref.asks.items()))
            continue
        status = (
            book.apply_many([(seq, side, price, size)])[1]
            if batch
            else book.apply(seq, side, price, size)
        )
        assert status is DeltaStatus.APPLIED
        assert book.bids(n) == ref.top(BID, n)
        assert book.asks(n) == ref.top(ASK, n)
    assert book.bids() == ref.top(BID, 10**9)
    assert book.asks() == ref.top(ASK, 10**9)
    for taker in Side:
        est = book.estimate_fill(taker, order)
        filled, notional = ref.fill(taker, order)
        assert (est.filled, est.notional, est.exhausted) == (filled, notional, filled < order)
        assert est.avg_price == (notional / filled if filled else None)
        if filled and ref.bids and ref.asks:
            mid = (max(ref.bids) + min(ref.asks)) / 2
            sign = 1 if taker is Side.BUY else -1
            assert est.slippage_vs_mid == sign * (notional / filled - mid) / mid
    band = book.depth_within(D("5"))
    expected = ref.depth(D("5"))
    assert (None if band is None else (band.bid_size, band.ask_size)) == expected

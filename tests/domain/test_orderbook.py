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


MODES = ("apply", "apply_delta", "apply_many", "apply_deltas")
"""The four entry points; each has its own copy of the fast path, so every test of delta
semantics runs through all of them."""

Row = tuple[int, BookSide, D, D]


def submit(book: OrderBook, mode: str, rows: list[Row]) -> tuple[int, DeltaStatus]:
    """Apply ``rows`` through one entry point: (rows applied, status of the last looked at)."""
    if mode == "apply_many":
        return book.apply_many(rows)
    deltas = [BookDelta(book.pair, seq, side, price, size, AT) for seq, side, price, size in rows]
    if mode == "apply_deltas":
        return book.apply_deltas(deltas)
    applied, status = 0, DeltaStatus.APPLIED
    for row, delta in zip(rows, deltas, strict=True):
        status = book.apply(*row) if mode == "apply" else book.apply_delta(delta)
        if status is not DeltaStatus.APPLIED:
            break
        applied += 1
    return applied, status


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


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("price", "size"),
    [
        (D("9.97"), D("-1")),
        (D("9.97"), D("NaN")),
        (D("9.97"), D("Infinity")),
        (D("9.99"), D("-1")),  # a known level
        (D("9.99"), D("NaN")),
        (D("9.99"), D("sNaN")),
        (D("0"), D("1")),
        (D("-9.97"), D("1")),
        (D("NaN"), D("1")),
        (D("Infinity"), D("1")),
        (D("-Infinity"), D("0")),
        (D("9.975"), D("1")),  # off tick
        (D("9.975"), D("0")),  # off tick, absent removal
        (D("1E+30"), D("1")),  # cannot be checked against the tick at 28 digits
        (D("9.97"), 1.0),
        (D("9.99"), 1.0),
        (D("9.99"), 0),
        ("9.97", D("1")),
        ("9.99", D("0")),
        (9.99, D("1")),
        (None, D("1")),
    ],
)
def test_bad_levels_raise_typed_errors(mode: str, price: object, size: object) -> None:
    book = make_book()
    before = (book.bids(), book.asks())
    with pytest.raises(InvalidLevelError):
        submit(book, mode, [(11, BID, price, size)])  # type: ignore[list-item]
    assert book.seq == 10 and (book.bids(), book.asks()) == before
    assert submit(book, mode, [(11, BID, D("9.97"), D("1"))]) == (1, DeltaStatus.APPLIED)


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


def _on_grid(units: int, scale: int, exponent: str) -> D:
    """units/scale written with a chosen exponent: 0.1, 0.10 and 0.100 are one price."""
    return (D(units) / scale).quantize(D(exponent))


prices = st.builds(_on_grid, st.integers(1, 60), st.just(100), st.sampled_from(["0.01", "0.001"]))
sizes = st.one_of(
    st.sampled_from([D(0), D("0.00"), D("-0")]),
    st.builds(_on_grid, st.integers(1, 500), st.just(10), st.sampled_from(["0.1", "0.01"])),
)
deltas = st.lists(st.tuples(st.sampled_from([BID, ASK]), prices, sizes), max_size=80)


@settings(max_examples=250, deadline=None)
@given(
    deltas,
    st.sampled_from(MODES),
    st.lists(st.integers(1, 12), max_size=20),
    st.integers(1, 10),
    st.integers(1, 400).map(lambda q: D(q) / 10),
)
def test_matches_naive_reference(
    rows: list[tuple[BookSide, D, D]], mode: str, cuts: list[int], n: int, order: D
) -> None:
    """Random deltas, cut into random batches, through one entry point, agree with the
    obviously-right model after every batch; a crossing delta stops its batch."""
    book, ref = OrderBook("X", tick_size=D("0.01")), NaiveBook()
    book.load(0, [], [])
    seq, applied, pending = 0, 0, list(rows)
    while pending:
        chunk = pending[: cuts.pop() if cuts else len(pending)]
        ok = 0
        for side, price, size in chunk:
            if not ref.apply(side, price, size):
                break
            ok += 1
        numbered = [(seq + 1 + j, side, price, size) for j, (side, price, size) in enumerate(chunk)]
        crossed = ok < len(chunk)
        assert submit(book, mode, numbered) == (
            ok,
            DeltaStatus.CROSSED if crossed else DeltaStatus.APPLIED,
        )
        seq, applied = seq + ok, applied + ok
        assert book.seq == seq and book.needs_resync is crossed and book.applied == applied
        if crossed:
            seq += 1  # the feed heals with a snapshot past the rejected delta
            book.load(seq, list(ref.bids.items()), list(ref.asks.items()))
        pending = pending[ok + crossed :]
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

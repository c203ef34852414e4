"""Order book: the fast paths' edges (snapshot loading, sides, subclasses, batches, counters).

The fast paths are duplicated per entry point for speed, so each case runs through all four
(``submit`` in test_orderbook) or compares the fast snapshot path with the per-level one.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneclick_tui.domain.market_events import BookDelta, BookSide
from oneclick_tui.domain.orderbook import (
    DeltaStatus,
    InvalidLevelError,
    OrderBook,
    PairMismatchError,
)
from tests.domain.test_orderbook import ASK, AT, BID, MODES, make_book, submit


class MyDecimal(D):
    """A Decimal subclass: valid, but not the exact type the fast path expects."""


# ------------------------------------------------------------------ snapshots
def reference_side(levels: list[tuple[D, D]]) -> dict[D, D]:
    """The documented load rule: any order, zero sizes ignored, the last duplicate wins."""
    side: dict[D, D] = {}
    for price, size in levels:
        if size > 0:
            side[price] = size
    return side


level_lists = st.lists(
    st.tuples(
        st.integers(1, 80).map(lambda t: D(t) / 100),
        st.one_of(st.just(D(0)), st.integers(1, 99).map(D)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(level_lists, level_lists, st.booleans(), st.booleans())
def test_load_matches_the_per_level_rule(
    bids: list[tuple[D, D]], asks: list[tuple[D, D]], best_first: bool, distinct: bool
) -> None:
    """Sorted best-first distinct levels take the fast path, anything else the general one;
    both must give the same book."""
    if distinct:
        bids = list(dict(bids).items())
        asks = list(dict(asks).items())
    if best_first:
        bids = sorted(bids, reverse=True)
        asks = sorted(asks)
    want_bids, want_asks = reference_side(bids), reference_side(asks)
    book = OrderBook("X", tick_size=D("0.01"))
    status = book.load(7, bids, asks)
    if want_bids and want_asks and max(want_bids) >= min(want_asks):
        assert status is DeltaStatus.CROSSED and book.needs_resync
        return
    assert status is DeltaStatus.APPLIED and book.seq == 7
    assert book.bids() == sorted(want_bids.items(), reverse=True)
    assert book.asks() == sorted(want_asks.items())


@pytest.mark.parametrize(
    "bids",
    [
        [(D("9.99"), D("NaN"))],
        [(D("9.99"), D("-1")), (D("9.98"), D("1"))],
        [(D("9.99"), D("Infinity"))],
        [(D("9.995"), D("1"))],  # off tick
        [(D("9.99"), D("1")), (D("9.985"), D("1"))],
        [(D("NaN"), D("1")), (D("9.98"), D("1"))],
        [(D("0"), D("1"))],
        [(D("1E+30"), D("1"))],
        [(D("9.99"), 1)],
        [(D("9.99"), D("1"), D("2"))],
    ],
)
def test_load_rejects_bad_levels_from_either_path(bids: list[tuple[object, ...]]) -> None:
    book = make_book()
    with pytest.raises((InvalidLevelError, ValueError)):
        book.load(20, bids, [(D("10.01"), D("1"))])  # type: ignore[arg-type]
    assert book.seq == 10 and book.best_bid() == (D("9.99"), D("5"))


def test_load_accepts_exponent_variants_and_subclasses() -> None:
    book = OrderBook("X", tick_size=D("0.01"))
    bids = [(D("9.990"), D("1")), (D("9.99"), D("2")), (MyDecimal("9.98"), D("3"))]
    assert book.load(1, bids, [(D("10.0100"), D("0")), (D("10.02"), D("4"))]) is DeltaStatus.APPLIED
    assert book.bids() == [(D("9.99"), D("2")), (D("9.98"), D("3"))]
    assert book.asks() == [(D("10.02"), D("4"))]


# -------------------------------------------------------------------- deltas
@pytest.mark.parametrize("mode", MODES)
def test_plain_string_side_is_accepted_and_junk_side_rejected(mode: str) -> None:
    book = make_book()
    rows = [(11, "bid", D("9.99"), D("7")), (12, "ask", D("10.03"), D("1"))]
    assert submit(book, mode, rows) == (2, DeltaStatus.APPLIED)  # type: ignore[arg-type]
    assert book.best_bid() == (D("9.99"), D("7")) and book.size_at(ASK, D("10.03")) == 1
    with pytest.raises(InvalidLevelError, match="side"):
        submit(book, mode, [(13, "buy", D("9.99"), D("1"))])  # type: ignore[list-item]
    assert book.seq == 12


@pytest.mark.parametrize("mode", MODES)
def test_decimal_subclasses_take_the_careful_path(mode: str) -> None:
    book = make_book()
    rows = [
        (11, BID, MyDecimal("9.99"), D("1")),
        (12, ASK, D("10.04"), MyDecimal("2")),
        (13, BID, MyDecimal("9.98"), MyDecimal("0")),
    ]
    assert submit(book, mode, rows) == (3, DeltaStatus.APPLIED)
    assert book.bids() == [(D("9.99"), D("1")), (D("9.95"), D("20"))]
    assert book.size_at(ASK, D("10.04")) == 2


@pytest.mark.parametrize("mode", MODES)
def test_new_levels_on_a_one_sided_book(mode: str) -> None:
    """An empty other side means nothing to cross: the fast path defers to the careful one."""
    book = OrderBook("X", tick_size=D("0.01"))
    book.load(0, [], [])
    rows = [(1, BID, D("5.00"), D("1")), (2, BID, D("5.01"), D("2")), (3, ASK, D("5.02"), D("3"))]
    assert submit(book, mode, rows) == (3, DeltaStatus.APPLIED)
    rows = [(4, BID, D("5.01"), D("0")), (5, BID, D("5.00"), D("0")), (6, ASK, D("4.00"), D("1"))]
    assert submit(book, mode, rows) == (3, DeltaStatus.APPLIED)
    assert book.bids() == [] and book.asks() == [(D("4.00"), D("1")), (D("5.02"), D("3"))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tick", [None, D("0.01")])
@pytest.mark.parametrize("side", [BID, ASK])
@pytest.mark.parametrize("price", [D("NaN"), D("Infinity"), D("-1"), D("0"), D("1E+30")])
def test_bad_prices_on_empty_sides(mode: str, tick: D | None, side: BookSide, price: D) -> None:
    """No level to bisect against and nothing on the other side: no compare has happened
    yet, so the checks themselves must catch every bad price."""
    if tick is None and price.is_finite() and price > 0:
        tick = D("0.01")  # 1E+30 is a fine price, only not checkable against a tick
    book = OrderBook("X", tick_size=tick)
    book.load(0, [], [])
    with pytest.raises(InvalidLevelError):
        submit(book, mode, [(1, side, price, D("1"))])
    other = ASK if side is BID else BID
    assert submit(book, mode, [(1, other, D("5"), D("1"))]) == (1, DeltaStatus.APPLIED)
    with pytest.raises(InvalidLevelError):
        submit(book, mode, [(2, side, price, D("1"))])
    assert book.seq == 1 and book.bids() + book.asks() == [(D("5"), D("1"))]


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_row_keeps_the_rows_before_it(mode: str) -> None:
    book = make_book()
    rows = [(11, BID, D("9.97"), D("1")), (12, ASK, D("10.03"), D("-2")), (13, BID, D("1"), D("1"))]
    with pytest.raises(InvalidLevelError):
        submit(book, mode, rows)
    assert book.seq == 11 and book.size_at(BID, D("9.97")) == 1 and book.applied == 1
    assert submit(book, mode, [(12, ASK, D("10.03"), D("2"))]) == (1, DeltaStatus.APPLIED)


@pytest.mark.parametrize("mode", MODES)
def test_counters_and_statuses_through_gaps_and_resyncs(mode: str) -> None:
    book = make_book()
    assert submit(book, mode, [(11, BID, D("9.97"), D("1"))]) == (1, DeltaStatus.APPLIED)
    assert submit(book, mode, [(11, BID, D("9.97"), D("2"))]) == (0, DeltaStatus.STALE)
    assert submit(book, mode, [(13, BID, D("9.97"), D("3"))]) == (0, DeltaStatus.GAP)
    assert submit(book, mode, [(14, BID, D("9.97"), D("4"))]) == (0, DeltaStatus.NEEDS_RESYNC)
    assert (book.stale, book.gaps, book.rejected, book.applied) == (1, 1, 2, 1)
    assert book.load(100, [(D("9.00"), D("1"))], [(D("9.50"), D("1"))]) is DeltaStatus.APPLIED
    assert book.resyncs == 1 and book.applied == 1 and book.seq == 100
    rows = [(101, BID, D("9.10"), D("1")), (102, ASK, D("9.40"), D("1"))]
    assert submit(book, mode, rows) == (2, DeltaStatus.APPLIED)
    assert submit(book, mode, [(103, BID, D("9.40"), D("1"))]) == (0, DeltaStatus.CROSSED)
    assert (book.crosses, book.rejected, book.applied, book.seq) == (1, 3, 3, 102)
    assert submit(book, mode, []) == (0, DeltaStatus.APPLIED)


def test_batch_with_a_foreign_pair_raises_before_applying() -> None:
    book = make_book()
    deltas = [
        BookDelta("APT/USDC", 11, BID, D("9.97"), D("1"), AT),
        BookDelta("WETH/USDC", 12, BID, D("9.96"), D("1"), AT),
    ]
    with pytest.raises(PairMismatchError):
        book.apply_deltas(deltas)
    assert book.seq == 10 and book.size_at(BID, D("9.97")) == 0


def test_the_same_price_in_another_exponent_is_the_same_level() -> None:
    book = make_book()
    rows = [(11, BID, D("9.9900"), D("8")), (12, ASK, D("10.010"), D("0"))]
    assert book.apply_many(rows) == (2, DeltaStatus.APPLIED)
    assert book.bids(1) == [(D("9.99"), D("8"))] and book.best_ask() == (D("10.02"), D("6"))
    assert book.apply(13, BookSide.BID, D("9.990"), D("0")) is DeltaStatus.APPLIED
    assert book.best_bid() == (D("9.98"), D("10"))

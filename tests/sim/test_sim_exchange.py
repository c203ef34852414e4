"""The simulated exchange: determinism, consistency of books and trades, lead traders."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from oneclick_tui.domain.market_events import (
    BookDelta,
    BookSide,
    BookSnapshot,
    LeadTrade,
    MarketEvent,
    MarketTrade,
    Side,
)
from oneclick_tui.domain.orderbook import DeltaStatus, OrderBook
from oneclick_tui.services.sim import SimExchange, TraderStyle
from oneclick_tui.services.sim.pairs import pair_by_symbol

START = datetime(2026, 1, 1, tzinfo=UTC)
HEX64 = re.compile(r"^0x[0-9a-f]{64}$")


def digest(events: list[MarketEvent]) -> str:
    return hashlib.sha256("\n".join(map(repr, events)).encode()).hexdigest()


@pytest.fixture(scope="module")
def run() -> tuple[SimExchange, list[MarketEvent]]:
    ex = SimExchange(42, START)
    return ex, ex.advance(1800)


def test_same_seed_same_stream_however_chunked() -> None:
    a = SimExchange(5, START).advance(120)
    chunked = SimExchange(5, START)
    b: list[MarketEvent] = []
    for _ in range(240):
        b.extend(chunked.advance(0.5))
    assert digest(a) == digest(b)
    assert digest(a) != digest(SimExchange(6, START).advance(120))


def test_events_are_time_ordered_utc_and_on_grid(run: tuple[SimExchange, list]) -> None:
    _, events = run
    times = [e.at for e in events]
    assert times == sorted(times) and all(t.tzinfo is UTC for t in times)
    kinds = {type(e) for e in events}
    assert kinds == {BookSnapshot, BookDelta, MarketTrade, LeadTrade}
    for e in events:
        if isinstance(e, BookSnapshot):
            continue
        spec = pair_by_symbol(e.pair)
        size = e.amount if isinstance(e, LeadTrade) else e.size
        assert isinstance(e.price, D) and isinstance(size, D)
        assert e.price % spec.tick_size == 0 and size % spec.lot_size == 0


def test_replayed_books_match_and_never_need_resync(run: tuple[SimExchange, list]) -> None:
    ex, events = run
    books = {p.symbol: OrderBook(p.symbol, p.tick_size) for p in ex.pairs}
    last_change: dict[tuple[str, BookSide, D], tuple[D, D]] = {}
    for e in events:
        if isinstance(e, BookSnapshot):
            assert books[e.pair].apply_snapshot(e) is DeltaStatus.APPLIED
        elif isinstance(e, BookDelta):
            before = books[e.pair].size_at(e.side, e.price)
            assert books[e.pair].apply_delta(e) is DeltaStatus.APPLIED
            last_change[(e.pair, e.side, e.price)] = (before, e.size)
        elif isinstance(e, MarketTrade):
            # each fill's delta came just before it and took exactly the traded size
            side = BookSide.ASK if e.side is Side.BUY else BookSide.BID
            before, after = last_change.pop((e.pair, side, e.price))
            assert before - after == e.size
    for symbol, book in books.items():
        live = ex.book(symbol)
        assert book.seq == live.seq
        assert book.bids() == live.bids() and book.asks() == live.asks()
        spread = book.spread()
        assert len(book.bids()) >= 10 and spread is not None and spread > 0


def test_traders_have_identities_and_never_oversell(run: tuple[SimExchange, list]) -> None:
    ex, events = run
    assert len(ex.traders) >= 20
    assert len({t.address for t in ex.traders}) == len(ex.traders)
    assert all(HEX64.match(t.address) for t in ex.traders)
    assert {t.risk_category for t in ex.traders} == {"low", "medium", "high", "extreme"}
    assert len({t.style for t in ex.traders}) == len(TraderStyle)
    profiles = {t.address: t for t in ex.traders}
    cash = {a: p.starting_balance for a, p in profiles.items()}
    held: dict[str, D] = defaultdict(D)
    versions = []
    leads = [e for e in events if isinstance(e, LeadTrade)]
    assert len(leads) > 50
    for t in leads:
        assert HEX64.match(t.tx_hash) and t.pair == profiles[t.trader_address].pair
        versions.append(t.version)
        notional_bound = t.price * t.amount  # price rounded against the trader
        if t.side is Side.BUY:
            cash[t.trader_address] -= notional_bound + t.fee
            held[t.trader_address] += t.amount
        else:
            cash[t.trader_address] += notional_bound - t.fee
            held[t.trader_address] -= t.amount
        assert held[t.trader_address] >= 0
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    for address, account in ((a, ex.account(a)) for a in profiles):
        assert account.holdings == held[address] and account.cash >= 0
        assert account.cash >= cash[address]  # the rounded bound is never better than real


def test_styles_size_like_their_names(run: tuple[SimExchange, list]) -> None:
    ex, events = run
    profiles = {t.address: t for t in ex.traders}
    fractions: dict[TraderStyle, list[D]] = defaultdict(list)
    for t in events:
        if isinstance(t, LeadTrade) and t.side is Side.BUY:
            p = profiles[t.trader_address]
            fractions[p.style].append(t.price * t.amount / p.starting_balance)

    def avg(style: TraderStyle) -> D:
        return sum(fractions[style], D(0)) / len(fractions[style])

    assert avg(TraderStyle.GAMBLER) > 5 * avg(TraderStyle.COMPOUNDER)
    assert avg(TraderStyle.GAMBLER) > 5 * avg(TraderStyle.DCA)
    scalps = sum(1 for t in events if isinstance(t, LeadTrade)
                 and profiles[t.trader_address].style is TraderStyle.SCALPER)  # fmt: skip
    assert scalps > len(fractions[TraderStyle.WHALE])


def test_rejects_naive_start_and_backwards_time() -> None:
    with pytest.raises(ValueError):
        SimExchange(1, datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        SimExchange(1, START).advance(-1)

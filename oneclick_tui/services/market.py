"""The market data pipeline: exchange events in; books, candles, tickers and bus messages out.

The pipeline keeps its own L2 book per pair, built from the feed's snapshots and sequenced
deltas exactly as it would from a real venue; a gap or a crossed book is counted and healed
from a fresh snapshot. Trades become candles (1m, 5m, 1h, 1d) that are flushed in batches to
the time-series store. Each tick publishes the top of every book ("latest" mode: a slow
reader only ever sees the newest) and the tick's trades.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from oneclick_tui.domain.candles import Candle as DomainCandle
from oneclick_tui.domain.candles import CandleAggregator
from oneclick_tui.domain.market_events import (
    BookDelta,
    BookSnapshot,
    LeadTrade,
    MarketEvent,
    MarketTrade,
)
from oneclick_tui.domain.orderbook import DeltaStatus, OrderBook, OrderBookError
from oneclick_tui.services.engine.catalog import Catalog
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.timeseries.base import Candle as StoredCandle
from oneclick_tui.stores.timeseries.base import TimeSeriesStore

log = logging.getLogger(__name__)

PUBLISH_LEVELS = 25


@dataclass
class FeedStats:
    """Counters a user (or `oneclick doctor`) can read to judge the feed's health."""

    events: int = 0
    deltas: int = 0
    gaps: int = 0
    crossed: int = 0
    resyncs: int = 0
    rejected: int = 0
    trades: int = 0
    lead_trades: int = 0
    candles_written: int = 0


@dataclass
class Ticker:
    """Last price and the price about 24 hours earlier, per pair."""

    last: Decimal | None = None
    samples: deque[tuple[datetime, Decimal]] = field(default_factory=lambda: deque(maxlen=1500))

    def observe(self, price: Decimal, at: datetime) -> None:
        self.last = price
        if not self.samples or at - self.samples[-1][0] >= timedelta(minutes=1):
            self.samples.append((at, price))

    def change_pct(self, now: datetime) -> Decimal | None:
        cutoff = now - timedelta(hours=24)
        ref = next((p for t, p in self.samples if t >= cutoff), None)
        if ref is None or self.last is None:
            return None
        return (self.last - ref) / ref * 100


class MarketPipeline:
    """Applies exchange events; the caller decides when to publish and flush."""

    def __init__(self, catalog: Catalog, snapshot_source: Any | None = None) -> None:
        self.catalog = catalog
        self.books = {symbol: OrderBook(symbol) for symbol in catalog.pairs}
        self.candles = CandleAggregator()
        self.tickers = {symbol: Ticker() for symbol in catalog.pairs}
        self.stats = FeedStats()
        self._snapshot_source = snapshot_source
        self._dirty: dict[tuple[str, str, datetime], DomainCandle] = {}
        self._trades: list[MarketTrade] = []

    def apply(self, events: Iterable[MarketEvent]) -> list[LeadTrade]:
        """Apply a batch of events in order; returns the lead trades among them."""
        leads: list[LeadTrade] = []
        for event in events:
            self.stats.events += 1
            try:
                self._apply_one(event, leads)
            except (OrderBookError, ValueError, KeyError) as exc:
                self.stats.rejected += 1
                log.warning("feed message rejected: %s (%s)", exc, type(event).__name__)
        return leads

    def _apply_one(self, event: MarketEvent, leads: list[LeadTrade]) -> None:
        if isinstance(event, BookDelta):
            self.stats.deltas += 1
            status = self.books[event.pair].apply_delta(event)
            if status in (DeltaStatus.GAP, DeltaStatus.CROSSED, DeltaStatus.NEEDS_RESYNC):
                self._heal(event.pair, status)
        elif isinstance(event, BookSnapshot):
            self.books[event.pair].apply_snapshot(event)
        elif isinstance(event, MarketTrade):
            self.stats.trades += 1
            self.tickers[event.pair].observe(event.price, event.at)
            for candle in self.candles.add_trade(event):
                self._dirty[(candle.pair, candle.timeframe.value, candle.start)] = candle
            self._trades.append(event)
        elif isinstance(event, LeadTrade):
            if event.pair not in self.books:
                raise KeyError(f"lead trade {event.tx_hash} on unknown pair {event.pair!r}")
            self.stats.lead_trades += 1
            leads.append(event)
        else:
            raise ValueError(f"not a market event: {type(event).__name__}")

    def _heal(self, pair: str, status: DeltaStatus) -> None:
        if status is DeltaStatus.GAP:
            self.stats.gaps += 1
        elif status is DeltaStatus.CROSSED:
            self.stats.crossed += 1
        source = self._snapshot_source
        if source is None:
            return  # wait for the feed's next snapshot
        fresh = source.book(pair)
        self.books[pair].load(fresh.seq, fresh.bids(), fresh.asks())
        self.stats.resyncs += 1

    def take_dirty_candles(self) -> list[StoredCandle]:
        """Candles changed since the last call, ready for the time-series store."""
        out = [
            StoredCandle(
                pair_id=self.catalog.pairs[c.pair].id,
                timeframe=c.timeframe.value,  # type: ignore[arg-type]
                bucket_at=c.start,
                open=c.open,
                high=c.high,
                low=c.low,
                close=c.close,
                volume=c.volume,
                vwap=c.vwap,
                trade_count=c.trade_count,
            )
            for c in self._dirty.values()
        ]
        self._dirty.clear()
        return out

    def take_trades(self) -> list[MarketTrade]:
        out, self._trades = self._trades, []
        return out

    def book_message(self, pair: str, at: datetime) -> dict[str, Any]:
        """The top of one book as a bus message (Decimals travel as strings)."""
        book = self.books[pair]
        ticker = self.tickers[pair]
        return {
            "key": pair,
            "pair": pair,
            "seq": book.seq,
            "at": at.isoformat(),
            "bids": [[str(p), str(s)] for p, s in book.bids(PUBLISH_LEVELS)],
            "asks": [[str(p), str(s)] for p, s in book.asks(PUBLISH_LEVELS)],
            "last": None if ticker.last is None else str(ticker.last),
            "change_24h_pct": _str(ticker.change_pct(at)),
        }


async def publish_tick(pipeline: MarketPipeline, bus: Bus, cache: Cache, at: datetime) -> None:
    """Publish every book's top and the tick's trades; keep top of book in the cache."""
    tops: list[tuple[str, dict[str, Any]]] = []
    for pair in pipeline.books:
        message = pipeline.book_message(pair, at)
        await bus.publish(topics.book(pair), message)
        book = pipeline.books[pair]
        tops.append(
            (
                f"tob:{pair}",
                {  # "" = no level yet on that side (a cache hash holds strings only)
                    "bid": _str(_price(book.best_bid())) or "",
                    "ask": _str(_price(book.best_ask())) or "",
                    "mid": _str(book.mid()) or "",
                    "seq": str(book.seq),
                },
            )
        )
    await cache.hset_bulk(tops)
    for trade in pipeline.take_trades():
        await bus.publish(
            topics.TRADES,
            {
                "pair": trade.pair,
                "price": str(trade.price),
                "size": str(trade.size),
                "side": trade.side.value,
                "at": trade.at.isoformat(),
            },
        )


async def flush_candles(pipeline: MarketPipeline, store: TimeSeriesStore) -> int:
    candles = pipeline.take_dirty_candles()
    if candles:
        await store.write_candles(candles)
        pipeline.stats.candles_written += len(candles)
    return len(candles)


def _price(level: tuple[Decimal, Decimal] | None) -> Decimal | None:
    return None if level is None else level[0]


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)

"""Immutable market facts shared by the order book, candles, the simulator and the pipeline.

Every price and size is an exact ``Decimal`` already on the pair's tick/lot grid, and every
timestamp is timezone-aware UTC, so consumers never have to re-validate what the market emits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    """Taker side of a trade: a buy lifts asks, a sell hits bids."""

    BUY = "buy"
    SELL = "sell"


class BookSide(StrEnum):
    """Which half of the book a level lives on."""

    BID = "bid"
    ASK = "ask"


Level = tuple[Decimal, Decimal]
"""One price level: (price, size)."""


@dataclass(frozen=True, slots=True)
class PairSpec:
    """A tradable pair's static rules; stored by the lead as a ``trading_pairs`` row."""

    symbol: str
    base: str
    quote: str
    dex_protocol: str
    tick_size: Decimal
    lot_size: Decimal
    min_size: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    base_decimals: int
    quote_decimals: int
    start_price: Decimal

    def round_price(self, price: Decimal) -> Decimal:
        """Nearest tick (half-even), so simulated prices are always quotable."""
        return (price / self.tick_size).quantize(Decimal(1)) * self.tick_size

    def floor_size(self, size: Decimal) -> Decimal:
        """Largest lot multiple not above ``size``: never trade more than asked or held."""
        return (size // self.lot_size) * self.lot_size


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Full L2 state at sequence ``seq``; bids best-first (descending), asks best-first."""

    pair: str
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class BookDelta:
    """One level change; ``size == 0`` removes the level. ``seq`` follows the snapshot's."""

    pair: str
    seq: int
    side: BookSide
    price: Decimal
    size: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """One fill against one resting level; ``side`` is the taker's side."""

    pair: str
    trade_id: int
    side: Side
    price: Decimal
    size: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class LeadTrade:
    """A lead trader's market order as the chain would record it (the copy engine's input).

    ``price`` is the average fill price (slippage included) rounded against the trader to the
    tick; ``amount`` is the filled base size; ``fee`` is in the quote asset.
    """

    trader_address: str
    pair: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    tx_hash: str
    version: int
    at: datetime


MarketEvent = BookSnapshot | BookDelta | MarketTrade | LeadTrade

"""Decibel (on-chain order book on Aptos) depth -> :class:`BookSnapshot`.

Two documented shapes, both handled (docs.decibel.trade, and the field names its own Python
SDK ``decibel-python-sdk`` 0.3.0 models in ``read/_market_depth.py``):

- ``GET /api/v1/depth?market=<addr>&limit=`` and the WebSocket topic
  ``depth:<marketAddr>[:<aggregation 1|2|5|10|100|1000>]`` (same body plus ``"topic"``):
  ``{"market": "0x…", "bids": [{"price": n, "size": n}], "asks": [...], "unix_ms": n}``.
- ``GET /api/v1/orderbook?ticker_id=BTC-PERP`` (CoinGecko/CMC aggregator format):
  ``{"ticker_id", "bids": [["price", "qty"]], "asks": [...], "timestamp": "<ms>"}``.

Numbers are JSON numbers in the first shape, so bodies are parsed with floats as ``Decimal``
(never a binary float) - the reason the SDK, which models price/size as ``float``, is not used.
A bad level (not a number, not positive, off the pair's tick, duplicated) is dropped and
counted; a crossed or unparseable snapshot is rejected whole and counted; the feed goes on.
Decibel publishes no sequence number, so the snapshot's ``seq`` is its millisecond timestamp
(monotonic per market, and only ever compared between snapshots of one book).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from oneclick_tui.domain.market_events import BookSnapshot, Level, PairSpec
from oneclick_tui.services.aptos.client import MalformedResponse, parse_json

log = logging.getLogger(__name__)

DECIBEL_HTTP = {
    "mainnet": "https://api.mainnet.aptoslabs.com/decibel",
    "testnet": "https://api.testnet.aptoslabs.com/decibel",
}
DECIBEL_WS = {
    "mainnet": "wss://api.mainnet.aptoslabs.com/decibel/ws",
    "testnet": "wss://api.testnet.aptoslabs.com/decibel/ws",
}


class DepthRejected(ValueError):
    """A whole depth message that cannot become a snapshot; ``kind`` is what is counted."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def depth_topic(market_addr: str, aggregation: int = 1) -> str:
    """The WebSocket channel name for one market's depth."""
    if aggregation not in (1, 2, 5, 10, 100, 1000):
        raise ValueError(f"aggregation must be 1, 2, 5, 10, 100 or 1000, got {aggregation}")
    return f"depth:{market_addr}:{aggregation}"


@dataclass
class DecibelDepthAdapter:
    """Maps Decibel markets to our pairs and their depth messages to snapshots.

    ``markets`` keys are market object addresses (lowercase) and/or ticker ids such as
    ``BTC-PERP``; each value is the pair spec the book is published under.
    """

    markets: Mapping[str, PairSpec]
    enforce_tick: bool = True
    rejected_levels: Counter[str] = field(default_factory=Counter)
    rejected_messages: Counter[str] = field(default_factory=Counter)
    snapshots: int = 0

    def __post_init__(self) -> None:
        self._markets = {k.lower(): v for k, v in self.markets.items()}

    @property
    def rejected(self) -> int:
        """Messages rejected whole plus levels dropped, for a single health figure."""
        return sum(self.rejected_messages.values()) + sum(self.rejected_levels.values())

    def parse(self, raw: str | bytes | Mapping[str, Any]) -> BookSnapshot | None:
        """One message (text or decoded) to a snapshot, or None when it was rejected."""
        try:
            body = parse_json(raw) if isinstance(raw, str | bytes) else raw
            if not isinstance(body, Mapping):
                raise DepthRejected("malformed", "depth message is not a JSON object")
            return self._snapshot(body)
        except MalformedResponse as exc:
            self._reject("truncated", str(exc))
        except DepthRejected as exc:
            self._reject(exc.kind, str(exc))
        return None

    # ---------------------------------------------------------------- internals
    def _snapshot(self, body: Mapping[str, Any]) -> BookSnapshot:
        if "market" in body:
            key, stamp, as_pairs = body["market"], body.get("unix_ms"), False
        elif "ticker_id" in body:
            key, stamp, as_pairs = body["ticker_id"], body.get("timestamp"), True
        else:
            raise DepthRejected("malformed", "neither market nor ticker_id")
        spec = self._markets.get(str(key).lower())
        if spec is None:
            raise DepthRejected("unknown_pair", f"market {key!r} is not mapped to a pair")
        ms = _millis(stamp)
        bids = self._side(spec, body.get("bids"), "bid", as_pairs, descending=True)
        asks = self._side(spec, body.get("asks"), "ask", as_pairs, descending=False)
        if bids and asks and bids[0][0] >= asks[0][0]:
            raise DepthRejected("crossed", f"best bid {bids[0][0]} >= best ask {asks[0][0]}")
        self.snapshots += 1
        at = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
        return BookSnapshot(spec.symbol, ms, tuple(bids), tuple(asks), at)

    def _side(
        self, spec: PairSpec, levels: Any, side: str, as_pairs: bool, *, descending: bool
    ) -> list[Level]:
        if not isinstance(levels, list):
            raise DepthRejected("malformed", f"{side}s is not a list")
        book: dict[Decimal, Decimal] = {}
        for i, level in enumerate(levels):
            try:
                price, size = _level(level, as_pairs)
                if not price.is_finite() or price <= 0:
                    raise ValueError(f"price {price} is not positive")
                if not size.is_finite() or size < 0:
                    raise ValueError(f"size {size} is negative")
                if self.enforce_tick and price % spec.tick_size:
                    raise ValueError(f"price {price} is off tick {spec.tick_size}")
                if price in book:
                    raise ValueError(f"price {price} listed twice")
            except (ValueError, InvalidOperation) as exc:
                self.rejected_levels[side] += 1
                log.warning("decibel %s %s level %d dropped: %s", spec.symbol, side, i, exc)
                continue
            if size:
                book[price] = size
        return sorted(book.items(), reverse=descending)

    def _reject(self, kind: str, reason: str) -> None:
        self.rejected_messages[kind] += 1
        log.warning("decibel depth message rejected: %s", reason)


def _level(level: Any, as_pairs: bool) -> tuple[Decimal, Decimal]:
    if as_pairs:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise ValueError(f"level {level!r} is not a [price, size] pair")
        raw_price, raw_size = level
    else:
        if not isinstance(level, Mapping):
            raise ValueError(f"level {level!r} is not an object")
        raw_price, raw_size = level.get("price"), level.get("size")
    return _number(raw_price, "price"), _number(raw_size, "size")


def _number(value: Any, what: str) -> Decimal:
    """A decimal from a JSON number (already Decimal/int) or a numeric string; never a bool."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"{what} {value!r} is not a number")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a number") from None


def _millis(value: Any) -> int:
    if isinstance(value, bool):
        raise DepthRejected("malformed", "timestamp is a boolean")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise DepthRejected("malformed", f"timestamp {value!r} is not unix milliseconds")


@dataclass
class DecibelRestClient:
    """Fetches depth over HTTP; the node API key goes out as ``Authorization: Bearer``."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)

    async def depth(self, market_addr: str, limit: int | None = None) -> bytes:
        """The raw body of ``/api/v1/depth`` (hand it to :meth:`DecibelDepthAdapter.parse`)."""
        params: dict[str, Any] = {"market": market_addr}
        if limit is not None:
            params["limit"] = limit
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with httpx.AsyncClient(
            base_url=self.base_url.rstrip("/"),
            headers=headers,
            timeout=self.timeout_s,
            transport=self.transport,
        ) as http:
            resp = await http.get("/api/v1/depth", params=params)
        resp.raise_for_status()
        return resp.content

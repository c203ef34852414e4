"""Decibel (on-chain order book on Aptos) depth -> :class:`BookSnapshot`.

Two documented shapes, both handled (docs.decibel.trade, and the field names its own Python
SDK ``decibel-python-sdk`` 0.3.0 models in ``read/_market_depth.py``):

- ``GET /api/v1/depth?market=<addr>&limit=`` and the WebSocket topic
  ``depth:<marketAddr>[:<aggregation 1|2|5|10|100|1000>]`` (same body plus ``"topic"``):
  ``{"market": "0x…", "bids": [{"price": n, "size": n}], "asks": [...], "unix_ms": n}``.
- ``GET /api/v1/orderbook?ticker_id=BTC-PERP`` (CoinGecko/CMC aggregator format):
  ``{"ticker_id", "bids": [["price", "qty"]], "asks": [...], "timestamp": "<ms>"}``.
- ``GET /api/v1/markets``: ``[{"market_addr", "market_name", "tick_size", ...}]``, how a
  configured market name (``APT/USD``) becomes the address the depth calls take.

Numbers are JSON numbers in the first shape, so bodies are parsed with floats as ``Decimal``
(never a binary float) - the reason the SDK, which models price/size as ``float``, is not used.
A bad level (not a number, not positive, off the pair's tick, duplicated) is dropped and
counted; a crossed or unparseable snapshot is rejected whole and counted; the feed goes on.
Decibel publishes no sequence number, so the snapshot's ``seq`` is its millisecond timestamp
(monotonic per market, and only ever compared between snapshots of one book). The live feed
(`decibel_stream.DecibelBooks`) keeps these books current over the WebSocket.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

import httpx

from oneclick_tui.domain.market_events import BookSnapshot, Level, PairSpec
from oneclick_tui.services.aptos.client import MalformedResponse, json_http_client, parse_json

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
    ``BTC-PERP``; each value is the pair spec the book is published under, or several (one
    Decibel book can price several of our pairs, e.g. APT/USD for APT/USDC and APT/USDT).
    """

    markets: Mapping[str, PairSpec | Sequence[PairSpec]]
    enforce_tick: bool = True
    coarsen: bool = False
    """Live books: an off-tick price moves onto our tick *against the taker* (bids down, asks
    up) and sizes landing on one level add up, instead of the level being dropped. Why:
    Decibel's tick can be finer than our pair's, and rounding against the follower never
    flatters a paper fill."""
    rejected_levels: Counter[str] = field(default_factory=Counter)
    rejected_messages: Counter[str] = field(default_factory=Counter)
    snapshots: int = 0

    def __post_init__(self) -> None:
        self._markets: dict[str, tuple[PairSpec, ...]] = {
            k.lower(): (v,) if isinstance(v, PairSpec) else tuple(v)
            for k, v in self.markets.items()
        }

    @property
    def rejected(self) -> int:
        """Messages rejected whole plus levels dropped, for a single health figure."""
        return sum(self.rejected_messages.values()) + sum(self.rejected_levels.values())

    def parse(self, raw: str | bytes | Mapping[str, Any]) -> BookSnapshot | None:
        """One message (text or decoded) to a snapshot, or None when it was rejected."""
        snaps = self.parse_all(raw)
        return snaps[0] if snaps else None

    def parse_all(self, raw: str | bytes | Mapping[str, Any]) -> list[BookSnapshot]:
        """One message to a snapshot per pair its market prices ([] when it was rejected)."""
        try:
            body = parse_json(raw) if isinstance(raw, str | bytes) else raw
            if not isinstance(body, Mapping):
                raise DepthRejected("malformed", "depth message is not a JSON object")
            return self._snapshots(body)
        except MalformedResponse as exc:
            self._reject("truncated", str(exc))
        except DepthRejected as exc:
            self._reject(exc.kind, str(exc))
        return []

    # ---------------------------------------------------------------- internals
    def _snapshots(self, body: Mapping[str, Any]) -> list[BookSnapshot]:
        if "market" in body:
            key, stamp, as_pairs = body["market"], body.get("unix_ms"), False
        elif "ticker_id" in body:
            key, stamp, as_pairs = body["ticker_id"], body.get("timestamp"), True
        else:
            raise DepthRejected("malformed", "neither market nor ticker_id")
        specs = self._markets.get(str(key).lower())
        if not specs:
            raise DepthRejected("unknown_pair", f"market {key!r} is not mapped to a pair")
        ms = _millis(stamp)
        label = specs[0].symbol
        raw_bids = self._levels(label, body.get("bids"), "bid", as_pairs)
        raw_asks = self._levels(label, body.get("asks"), "ask", as_pairs)
        at = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)
        out: list[BookSnapshot] = []
        for spec in specs:
            bids = self._on_grid(spec, raw_bids, "bid")
            asks = self._on_grid(spec, raw_asks, "ask")
            if bids and asks and bids[0][0] >= asks[0][0]:
                raise DepthRejected("crossed", f"best bid {bids[0][0]} >= best ask {asks[0][0]}")
            out.append(BookSnapshot(spec.symbol, ms, tuple(bids), tuple(asks), at))
        self.snapshots += 1
        return out

    def _levels(self, label: str, levels: Any, side: str, as_pairs: bool) -> list[Level]:
        """The side's well-formed levels in message order; bad ones dropped and counted."""
        if not isinstance(levels, list):
            raise DepthRejected("malformed", f"{side}s is not a list")
        out: list[Level] = []
        seen: set[Decimal] = set()
        for i, level in enumerate(levels):
            try:
                price, size = _level(level, as_pairs)
                if not price.is_finite() or price <= 0:
                    raise ValueError(f"price {price} is not positive")
                if not size.is_finite() or size < 0:
                    raise ValueError(f"size {size} is negative")
                if price in seen:
                    raise ValueError(f"price {price} listed twice")
            except (ValueError, InvalidOperation) as exc:
                self.rejected_levels[side] += 1
                log.warning("decibel %s %s level %d dropped: %s", label, side, i, exc)
                continue
            seen.add(price)
            out.append((price, size))
        return out

    def _on_grid(self, spec: PairSpec, levels: list[Level], side: str) -> list[Level]:
        """The levels on ``spec``'s tick, best first (coarsened or filtered, see the fields)."""
        tick = spec.tick_size
        book: dict[Decimal, Decimal] = {}
        for price, size in levels:
            if price % tick:
                if self.coarsen:
                    mode = ROUND_FLOOR if side == "bid" else ROUND_CEILING
                    price = (price / tick).to_integral_value(rounding=mode) * tick
                    if price <= 0:
                        continue
                elif self.enforce_tick:
                    self.rejected_levels[side] += 1
                    log.warning(
                        "decibel %s %s level dropped: price %s is off tick %s",
                        spec.symbol, side, price, tick,
                    )  # fmt: skip
                    continue
            if size:
                book[price] = book.get(price, Decimal(0)) + size
        return sorted(book.items(), reverse=side == "bid")

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


class DecibelUnavailable(Exception):
    """Decibel's REST API could not be reached or answered with an error; retry later."""


@dataclass
class DecibelRestClient:
    """Reads Decibel's REST API; the node API key goes out as ``Authorization: Bearer``.

    One HTTP client is kept for the feed's lifetime (snapshots are re-fetched on every
    reconnect and quiet spell); :meth:`close` releases it.
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = json_http_client(
                self.base_url, self.api_key, self.timeout_s, self.transport
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        try:
            resp = await self._client().get(path, params=params)
        except httpx.HTTPError as exc:
            raise DecibelUnavailable(f"cannot reach Decibel: {type(exc).__name__} {exc}") from None
        if resp.status_code >= 400:
            raise DecibelUnavailable(f"Decibel {path}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp.content

    async def depth(self, market_addr: str, limit: int | None = None) -> bytes:
        """The raw body of ``/api/v1/depth`` (hand it to :meth:`DecibelDepthAdapter.parse`)."""
        params: dict[str, Any] = {"market": market_addr}
        if limit is not None:
            params["limit"] = limit
        return await self._get("/api/v1/depth", params)

    async def markets(self) -> dict[str, str]:
        """Market name -> market address, from ``/api/v1/markets`` (``[{"market_addr",
        "market_name", ...}]``); a body of another shape raises MalformedResponse."""
        body = parse_json(await self._get("/api/v1/markets"))
        if not isinstance(body, list):
            raise MalformedResponse("markets: expected a JSON array")
        out: dict[str, str] = {}
        for item in body:
            name = item.get("market_name") if isinstance(item, dict) else None
            addr = item.get("market_addr") if isinstance(item, dict) else None
            if not isinstance(name, str) or not isinstance(addr, str) or not addr.startswith("0x"):
                raise MalformedResponse(f"markets: entry without market_name/market_addr: {item!r}")
            out[name] = addr.lower()
        return out

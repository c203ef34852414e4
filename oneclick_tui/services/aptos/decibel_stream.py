"""Live Decibel order books: REST snapshot, then the WebSocket depth topic, healed on gaps.

Protocol, as Decibel documents it (docs.decibel.trade AsyncAPI/OpenAPI, mirrored in the
``decibeltrade/python-sdk`` specs ``docs/SPEC-WEBSOCKET.md`` and ``docs/SPEC-REST.md``):

- connect to ``wss://api.<network>.aptoslabs.com/decibel/ws`` offering the subprotocols
  ``decibel`` and the API key (``Sec-WebSocket-Protocol: decibel, <key>``);
- send ``{"method": "subscribe", "topic": "depth:<market addr>:<aggregation>"}``; the answer
  is an ack ``{"success": true|false, "message": ...}`` with no ``topic`` field;
- every depth message is the *whole* book (``{"topic", "market", "bids": [{"price",
  "size"}], "asks", "unix_ms"}``), not a delta, and the first one follows the subscription;
- the server pings every 30 s (aiohttp answers) and ends a session after an hour.

Because each message is a full book with a timestamp and there is no sequence number, a
"gap" is any moment we may have missed the newest book: a (re)connect, a message we had to
reject, a market that went quiet. All are healed the same way: a REST snapshot of that market
(``GET /api/v1/depth``). A message older than the book it would replace is dropped as stale.
While the WebSocket is down the books are refreshed by REST on every reconnect attempt, and a
book that could not be refreshed at all for ``expire_after_s`` is emptied, so a copy is never
paper-filled against an old price (the copy engine then records "no live book").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from oneclick_tui.domain.market_events import BookSnapshot, PairSpec
from oneclick_tui.services.aptos.client import MalformedResponse, parse_json
from oneclick_tui.services.aptos.decibel import (
    DecibelDepthAdapter,
    DecibelRestClient,
    DecibelUnavailable,
    depth_topic,
)
from oneclick_tui.services.market import MarketPipeline

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    """What `oneclick engine` reports about the Decibel feed (engine_status, stop line)."""

    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    applied: int = 0
    stale: int = 0
    resyncs: int = 0
    snapshot_errors: int = 0
    expired: int = 0
    nacks: int = 0
    unknown_markets: int = 0
    last_error: str | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    """Whole messages that were not usable, by reason (acks without success included)."""


class DecibelBooks:
    """Keeps ``pipeline.books`` (the copy engine's books) current from Decibel.

    ``markets`` maps our pair symbol to a Decibel market name (``APT/USD``, looked up in
    ``/api/v1/markets``) or its ``0x`` address. Pairs whose market cannot be found have no
    book (logged and counted) and their copies are skipped with that reason.
    """

    def __init__(
        self,
        rest: DecibelRestClient,
        ws_url: str | None,
        markets: Mapping[str, str],
        specs: Mapping[str, PairSpec],
        pipeline: MarketPipeline,
        *,
        api_key: str | None = None,
        aggregation: int = 1,
        depth_limit: int | None = None,
        resync_quiet_s: float = 30.0,
        min_resync_s: float = 2.0,
        expire_after_s: float = 90.0,
        max_backoff_s: float = 30.0,
        tick_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest = rest
        self.ws_url = ws_url
        self.wanted = dict(markets)
        self.specs = specs
        self.pipeline = pipeline
        self.api_key = api_key
        self.aggregation = aggregation
        self.depth_limit = depth_limit
        self.resync_quiet_s = resync_quiet_s
        self.min_resync_s = min_resync_s
        self.expire_after_s = expire_after_s
        self.max_backoff_s = max_backoff_s
        self.tick_s = tick_s
        self.clock = clock
        self.stats = StreamStats()
        self.state = "starting"
        self.routes: dict[str, list[str]] = {}
        """Market address -> our pairs it prices (filled by :meth:`resolve`)."""
        self.adapter = DecibelDepthAdapter({}, coarsen=True)
        self.ready = asyncio.Event()
        """Set once every resolvable market had one snapshot attempt (engine start waits)."""
        self._resolved = False
        self._heard: dict[str, float] = {}
        self._last_resync: dict[str, float] = {}
        self._resync_due: set[str] = set()
        self._fresh: dict[str, float] = {}
        self._expired: set[str] = set()

    # ------------------------------------------------------------------ setup
    async def resolve(self) -> None:
        """Market names -> addresses (one REST call); raises DecibelUnavailable to retry."""
        names = {m for m in self.wanted.values() if not m.startswith("0x")}
        listed = await self.rest.markets() if names else {}
        routes: dict[str, list[str]] = {}
        for pair, market in sorted(self.wanted.items()):
            if pair not in self.specs:
                continue
            addr = market.lower() if market.startswith("0x") else listed.get(market)
            if addr is None:
                self.stats.unknown_markets += 1
                log.error(
                    "decibel has no market %r (for %s): that pair has no live book and its "
                    "copies are skipped; known markets: %s",
                    market, pair, ", ".join(sorted(listed)) or "none",
                )  # fmt: skip
                continue
            routes.setdefault(addr, []).append(pair)
        self.routes = routes
        self.adapter = DecibelDepthAdapter(
            {addr: [self.specs[p] for p in pairs] for addr, pairs in routes.items()}, coarsen=True
        )
        self._resolved = True
        log.info(
            "decibel books: %s",
            ", ".join(f"{'/'.join(p)} <- {a[:10]}…" for a, p in routes.items()) or "none",
        )

    # ------------------------------------------------------------------- loop
    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: resolve, stream, and on any failure back off, resync, reconnect."""
        watchdog = asyncio.create_task(self._expire_loop(stop))
        backoff = 0.0
        try:
            while not stop.is_set():
                delivered = False
                try:
                    if not self._resolved:
                        await self.resolve()
                    if self.ws_url is None or not self.routes:
                        await self._resync_all()  # REST only
                        self.ready.set()
                        delivered = True
                        self.state = "rest" if self.routes else "no markets"
                        await _wait(stop, self.resync_quiet_s)
                        continue
                    delivered = await self._stream(stop)
                except (DecibelUnavailable, MalformedResponse) as exc:
                    self._failed(exc)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    self._failed(exc)
                if stop.is_set():
                    break
                self.state = "reconnecting"
                if self._resolved:
                    await self._resync_all()  # keep books fresh while the socket is down
                self.ready.set()
                backoff = 1.0 if delivered else min(max(backoff * 2, 1.0), self.max_backoff_s)
                await _wait(stop, backoff)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            self.state = "stopped"

    async def _stream(self, stop: asyncio.Event) -> bool:
        """One WebSocket session; True when it delivered data (the backoff then resets)."""
        assert self.ws_url is not None
        protocols = ("decibel", self.api_key) if self.api_key else ("decibel",)
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        delivered = False
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=10)) as http,
            # heartbeat: our own pings, so a silently dead connection is noticed and replaced
            http.ws_connect(
                self.ws_url, protocols=protocols, autoping=True, heartbeat=20.0, timeout=timeout
            ) as ws,
        ):
            self.stats.connects += 1
            for addr in self.routes:
                topic = depth_topic(addr, self.aggregation)
                await ws.send_str(json.dumps({"method": "subscribe", "topic": topic}))
            # subscribed first, then the snapshot: whatever arrives in between is ordered by
            # its timestamp, so nothing is lost and nothing older replaces something newer
            await self._resync_all()
            self.ready.set()
            self.state = "streaming"
            log.info("decibel websocket connected; %d depth topics", len(self.routes))
            while not stop.is_set():
                try:
                    msg = await ws.receive(timeout=self.tick_s)
                except TimeoutError:
                    await self._housekeeping()
                    continue
                if msg.type is aiohttp.WSMsgType.TEXT:
                    delivered |= self._on_text(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self._reject_all("malformed", "binary frame")
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
                await self._housekeeping()
        if not stop.is_set():
            self.stats.disconnects += 1
            log.warning("decibel websocket closed; resyncing from snapshots and reconnecting")
        return delivered

    # -------------------------------------------------------------- messages
    def _on_text(self, text: str) -> bool:
        """Apply one message; True when it was a usable book."""
        self.stats.messages += 1
        try:
            body = parse_json(text)
        except MalformedResponse:
            self.adapter.parse_all(text)  # counted there as "truncated"
            self._reject_all("truncated", "unparseable message")
            return False
        if isinstance(body, dict) and "success" in body and "topic" not in body:
            if body.get("success") is not True:
                self.stats.nacks += 1
                self.stats.rejected["nack"] += 1
                log.warning("decibel refused a subscription: %s", body.get("message"))
            return False
        market = body.get("market") if isinstance(body, dict) else None
        addr = market.lower() if isinstance(market, str) else None
        snaps = self.adapter.parse_all(body)
        if not snaps:
            self.stats.rejected["depth"] += 1
            if addr in self.routes:
                self._resync_due.add(addr)  # the newest book was lost: fetch it
            else:
                self._resync_due.update(self.routes)
            return False
        if addr is not None:
            self._heard[addr] = self.clock()
        for snap in snaps:
            self._apply(snap)
        return True

    def _reject_all(self, kind: str, detail: str) -> None:
        self.stats.rejected[kind] += 1
        log.warning("decibel message rejected (%s): %s; resyncing", kind, detail)
        self._resync_due.update(self.routes)

    def _apply(self, snap: BookSnapshot) -> None:
        book = self.pipeline.books.get(snap.pair)
        if book is None:
            return
        if snap.seq < book.seq:
            self.stats.stale += 1
            return
        self.pipeline.apply([snap])
        self.stats.applied += 1
        self._fresh[snap.pair] = self.clock()
        if snap.pair in self._expired:
            self._expired.discard(snap.pair)
            log.info("decibel book %s is live again", snap.pair)

    # ---------------------------------------------------------------- resyncs
    async def _resync_all(self) -> None:
        for addr in list(self.routes):
            await self._resync(addr)

    async def _resync(self, addr: str) -> bool:
        """A REST snapshot of one market; failures are counted, logged, and retried later."""
        self._last_resync[addr] = self.clock()
        self._resync_due.discard(addr)
        try:
            body = await self.rest.depth(addr, self.depth_limit)
        except DecibelUnavailable as exc:
            self.stats.snapshot_errors += 1
            self.stats.last_error = str(exc)
            log.warning("decibel snapshot of %s failed: %s", "/".join(self.routes[addr]), exc)
            return False
        snaps = self.adapter.parse_all(body)
        if not snaps:
            self.stats.snapshot_errors += 1
            return False
        self.stats.resyncs += 1
        self._heard[addr] = self.clock()
        for snap in snaps:
            self._apply(snap)
        return True

    async def _housekeeping(self) -> None:
        """Due resyncs (rate-limited per market) and quiet markets."""
        now = self.clock()
        for addr in list(self.routes):
            quiet = now - self._heard.get(addr, 0.0) >= self.resync_quiet_s
            recent = now - self._last_resync.get(addr, -1e18) < self.min_resync_s
            if (addr in self._resync_due or quiet) and not recent:
                await self._resync(addr)

    async def _expire_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.expire()
            await _wait(stop, 1.0)

    def expire(self) -> None:
        """Empty every book not refreshed for ``expire_after_s`` (logged once per outage)."""
        now = self.clock()
        for pairs in self.routes.values():
            for pair in pairs:
                book = self.pipeline.books.get(pair)
                fresh = self._fresh.get(pair)
                if book is None or fresh is None or pair in self._expired:
                    continue
                if now - fresh >= self.expire_after_s:
                    book.load(book.seq, (), ())
                    self._expired.add(pair)
                    self.stats.expired += 1
                    log.warning(
                        "decibel book %s emptied: no fresh depth for %.0f s; copies on it are "
                        "skipped until it is back",
                        pair, now - fresh,
                    )  # fmt: skip

    def _failed(self, exc: BaseException) -> None:
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("decibel feed: %s", self.stats.last_error)

    def status(self) -> dict[str, Any]:
        """The feed's figures for engine_status."""
        s = self.stats
        return {
            "state": self.state,
            "books": {p: self.pipeline.books[p].seq for ps in self.routes.values() for p in ps},
            "connects": s.connects,
            "disconnects": s.disconnects,
            "messages": s.messages,
            "applied": s.applied,
            "stale": s.stale,
            "resyncs": s.resyncs,
            "snapshot_errors": s.snapshot_errors,
            "expired": s.expired,
            "rejected": dict(s.rejected),
            "rejected_levels": dict(self.adapter.rejected_levels),
        }


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)

"""Live Decibel books: snapshot + WebSocket, stale and bad messages, reconnect, expiry.

Decibel is a stand-in here (tests/aptos_standin.py `StandinDecibel`): this machine cannot
reach Decibel, so a local aiohttp server answers ``/decibel/api/v1/markets``,
``/decibel/api/v1/depth`` and the ``/decibel/ws`` WebSocket in the shapes Decibel documents
(full-book depth messages with ``unix_ms``, ``{"success", "message"}`` acks, the API key as
the second subprotocol), from the recorded bodies in tests/fixtures/aptos/decibel_*.json.
Waits are bounded polls of what a user could check (the book, the counters), never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal as D
from typing import Any

import pytest

from oneclick_tui.services.aptos.decibel import DecibelRestClient
from oneclick_tui.services.aptos.decibel_stream import DecibelBooks
from oneclick_tui.services.engine.catalog import Catalog, PairInfo
from oneclick_tui.services.market import MarketPipeline
from oneclick_tui.services.sim.pairs import pair_by_symbol
from tests.aptos_standin import StandinDecibel

SPECS = {s: pair_by_symbol(s) for s in ("APT/USDC", "APT/USDT")}
MARKETS = {"APT/USDC": "APT/USD", "APT/USDT": "APT/USD"}


async def eventually(check: Callable[[], Any], within: float = 10.0, what: str = "") -> None:
    """Poll ``check()`` until truthy; a bounded wait for the feed to get there."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or check}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def decibel() -> AsyncIterator[StandinDecibel]:
    standin = StandinDecibel()
    await standin.start()
    yield standin
    await standin.stop()


def _feed(
    standin: StandinDecibel, markets: dict[str, str] | None = None, **options: Any
) -> tuple[DecibelBooks, MarketPipeline]:
    catalog = Catalog({s: PairInfo(i + 1, spec) for i, (s, spec) in enumerate(SPECS.items())}, {})
    pipeline = MarketPipeline(catalog)
    feed = DecibelBooks(
        DecibelRestClient(standin.base_url, "node-key"),
        standin.ws_url,
        markets or MARKETS,
        SPECS,
        pipeline,
        api_key="node-key",
        **options,
    )
    return feed, pipeline


@asynccontextmanager
async def running(feed: DecibelBooks) -> AsyncIterator[DecibelBooks]:
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        await asyncio.wait_for(feed.ready.wait(), 10)
        yield feed
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await feed.rest.close()


def _bid(pipeline: MarketPipeline, pair: str = "APT/USDC") -> Any:
    return pipeline.books[pair].best_bid()


async def test_snapshot_and_stream_keep_every_mapped_pair_current(
    decibel: StandinDecibel,
) -> None:
    feed, pipeline = _feed(decibel)
    addr = decibel.address_of("APT/USD")
    async with running(feed):
        await eventually(lambda: decibel.connected == 1 and feed.state == "streaming")
        for pair in SPECS:  # one Decibel market prices both of our APT pairs
            book = pipeline.books[pair]
            assert book.best_bid() == (D("8.4493"), D("120.5"))
            assert book.best_ask() == (D("8.4497"), D(150))
            # Decibel's finer tick is moved onto ours against the taker, never in his favour
            assert (D("8.4492"), D(30)) in book.bids(10)
            assert (D("8.4498"), D(20)) in book.asks(10)
        assert decibel.protocols_seen == [["decibel", "node-key"]]
        assert decibel.subscriptions == [f"depth:{addr}:1"]
        assert set(decibel.auth_seen) == {"Bearer node-key"}

        await decibel.push(addr, [("8.5", "10")], [("8.51", "12")])
        await eventually(lambda: pipeline.books["APT/USDT"].mid() == D("8.505"), what="update")
        assert pipeline.books["APT/USDC"].asks(5) == [(D("8.51"), D(12))]
        assert feed.stats.applied >= 4 and feed.adapter.rejected == 0


async def test_an_older_book_never_replaces_a_newer_one(decibel: StandinDecibel) -> None:
    feed, pipeline = _feed(decibel)
    addr = decibel.address_of("APT/USD")
    async with running(feed):
        await eventually(lambda: feed.state == "streaming")
        await decibel.push(addr, [("8.6", "1")], [("8.61", "1")])
        await eventually(lambda: _bid(pipeline) == (D("8.6"), D(1)))
        late = {"topic": f"depth:{addr}:1", **decibel.books[addr]}
        late.update(unix_ms=late["unix_ms"] - 5_000, bids=[{"price": 7.0, "size": 1}])
        await decibel.send_raw(addr, json.dumps(late))
        await eventually(lambda: feed.stats.stale >= 2, what="stale count")  # both pairs
        assert _bid(pipeline) == (D("8.6"), D(1))


async def test_bad_messages_are_counted_and_healed_from_a_fresh_snapshot(
    decibel: StandinDecibel,
) -> None:
    feed, pipeline = _feed(decibel, min_resync_s=0.0)
    addr = decibel.address_of("APT/USD")
    async with running(feed):
        await eventually(lambda: feed.state == "streaming")
        snapshots = len(decibel.depth_requests)

        good = json.dumps({"topic": f"depth:{addr}:1", **decibel.books[addr]})
        await decibel.send_raw(addr, good[: len(good) // 2])  # truncated
        await eventually(lambda: feed.adapter.rejected_messages["truncated"] == 1)
        await eventually(lambda: len(decibel.depth_requests) > snapshots, what="resync")

        now = int(time.time() * 1000)
        bad_levels = {
            "topic": f"depth:{addr}:1",
            "market": addr,
            "bids": [{"price": 8.44, "size": 2}, {"price": "abc", "size": 1}],
            "asks": [{"price": 8.45, "size": -3}, {"price": 8.46, "size": 4}],
            "unix_ms": now,
        }
        await decibel.send_raw(addr, json.dumps(bad_levels))
        await eventually(lambda: _bid(pipeline) == (D("8.44"), D(2)), what="good levels")
        assert pipeline.books["APT/USDC"].asks(5) == [(D("8.46"), D(4))]
        assert feed.adapter.rejected_levels == {"bid": 1, "ask": 1}  # "abc", negative size

        crossed = {**bad_levels, "bids": [{"price": 9, "size": 1}], "unix_ms": now + 1}
        crossed["asks"] = [{"price": 8, "size": 1}]
        before = len(decibel.depth_requests)
        await decibel.send_raw(addr, json.dumps(crossed))
        await eventually(lambda: feed.adapter.rejected_messages["crossed"] == 1)
        await eventually(lambda: len(decibel.depth_requests) > before, what="resync")
        assert _bid(pipeline) != (D(9), D(1))

        await decibel.push(addr, [("8.7", "3")], [("8.71", "3")])  # and the feed goes on
        await eventually(lambda: _bid(pipeline) == (D("8.7"), D(3)))


async def test_refused_subscription_is_counted(decibel: StandinDecibel) -> None:
    feed, _ = _feed(decibel)
    addr = decibel.address_of("APT/USD")
    async with running(feed):
        await eventually(lambda: feed.state == "streaming")
        nack = {"success": False, "message": "Maximum client topic subscription count reached"}
        await decibel.send_raw(addr, json.dumps(nack))
        await eventually(lambda: feed.stats.nacks == 1)


async def test_dropped_socket_reconnects_and_resyncs_from_a_snapshot(
    decibel: StandinDecibel,
) -> None:
    feed, pipeline = _feed(decibel)
    addr = decibel.address_of("APT/USD")
    async with running(feed):
        await eventually(lambda: feed.state == "streaming")
        snapshots = len(decibel.depth_requests)
        decibel.books[addr]["bids"] = [{"price": 8.3, "size": 7}]  # changed while we are away
        decibel.books[addr]["unix_ms"] = int(time.time() * 1000)
        await decibel.drop_clients()
        await eventually(lambda: feed.stats.connects == 2 and decibel.connected == 1)
        await eventually(lambda: _bid(pipeline) == (D("8.3"), D(7)), what="resynced book")
        assert len(decibel.depth_requests) > snapshots
        assert feed.stats.disconnects == 1
        assert decibel.subscriptions == [f"depth:{addr}:1"] * 2
        await decibel.push(addr, [("8.31", "1")], [("8.32", "1")])
        await eventually(lambda: _bid(pipeline) == (D("8.31"), D(1)))


async def test_a_book_that_cannot_be_refreshed_is_emptied_then_comes_back(
    decibel: StandinDecibel,
) -> None:
    feed, pipeline = _feed(decibel, expire_after_s=0.6, resync_quiet_s=0.2, max_backoff_s=0.2)
    async with running(feed):
        await eventually(lambda: feed.state == "streaming")
        assert pipeline.books["APT/USDC"].mid() is not None
        decibel.refuse_ws, decibel.depth_faults = True, 10**6
        await decibel.drop_clients()
        await eventually(lambda: feed.stats.expired == 2, what="both books expired")
        assert pipeline.books["APT/USDC"].mid() is None  # no paper fill on an old price
        assert feed.stats.snapshot_errors > 0 and feed.stats.last_error

        decibel.refuse_ws, decibel.depth_faults = False, 0
        await eventually(lambda: pipeline.books["APT/USDC"].mid() is not None, what="back")
        await eventually(lambda: feed.state == "streaming" and decibel.connected == 1)


async def test_unknown_market_name_leaves_the_pair_without_a_book(
    decibel: StandinDecibel, caplog: pytest.LogCaptureFixture
) -> None:
    feed, pipeline = _feed(decibel, {"APT/USDC": "DOGE/USD"})
    async with running(feed):
        assert feed.stats.unknown_markets == 1 and feed.routes == {}
        assert pipeline.books["APT/USDC"].mid() is None
        assert "decibel has no market 'DOGE/USD'" in caplog.text

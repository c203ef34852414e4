"""Redis going away, for real: unreachable at start, connections killed, a whole outage.

Only our own connections are killed (found by client name), and the outage is played by a
TCP proxy in front of the shared server, so other tests using Redis are never disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from oneclick_tui.config import Settings
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.redis import RedisBus
from oneclick_tui.stores.cache.base import CacheUnavailableError
from oneclick_tui.stores.cache.redis import RedisCache
from oneclick_tui.stores.live import RedisUnavailableError, open_bus, open_cache

pytestmark = pytest.mark.redis
CLOSED_PORT_URL = "redis://trader:s3cret-pw@127.0.0.1:1/0"


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


async def kill_client(redis_url: str, name: str) -> None:
    """CLIENT KILL ID for our own named connection only."""
    admin = aioredis.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c.get("name") == name]
        assert ids, f"no connection named {name}"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()


class FlakyProxy:
    """TCP proxy to Redis that can cut every connection and refuse new ones for a while."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self.refused = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self.refused += 1
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[tuple[FlakyProxy, str]]:
    parts = urlsplit(redis_url)
    flaky = FlakyProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await flaky.start()
    yield flaky, urlunsplit(parts._replace(netloc=f"127.0.0.1:{flaky.port}"))
    await flaky.close()


async def test_unreachable_redis_at_start_is_typed_and_masks_password() -> None:
    settings = Settings(redis_url=CLOSED_PORT_URL)
    for opener in (open_cache, open_bus):
        with pytest.raises(RedisUnavailableError) as caught:
            await opener(settings)
        message = str(caught.value)
        assert "redis://trader:***@127.0.0.1:1/0" in message and "s3cret" not in message


async def test_subscriber_connection_killed_reconnects_and_delivers(redis_url: str) -> None:
    bus = await RedisBus.open(redis_url, backoff_initial=0.2)
    try:
        book = await bus.subscribe(topics.book("APT-USDC"), mode="latest", key="pair")
        trades = await bus.subscribe(topics.TRADES)
        await kill_client(redis_url, f"{bus.name}:sub")
        await eventually(lambda: not bus.health().connected)  # a UI would show "degraded"
        await eventually(lambda: bus.health().connected)
        assert bus.health().reconnects == 1
        await bus.publish(topics.TRADES, {"n": 1})
        await bus.publish(topics.book("APT-USDC"), {"pair": "APT-USDC", "bid": "8.1"})
        assert await asyncio.wait_for(trades.get(), 2) == {"n": 1}
        assert await asyncio.wait_for(book.get(), 2) == {"pair": "APT-USDC", "bid": "8.1"}
    finally:
        await bus.close()


async def test_publisher_connection_killed_next_publish_goes_through(redis_url: str) -> None:
    bus = await RedisBus.open(redis_url)
    try:
        sub = await bus.subscribe(topics.COPY_EVENTS)
        await bus.publish(topics.COPY_EVENTS, {"n": 0})
        await kill_client(redis_url, f"{bus.name}:pub")
        await bus.publish(topics.COPY_EVENTS, {"n": 1})
        assert [await asyncio.wait_for(sub.get(), 2) for _ in range(2)] == [{"n": 0}, {"n": 1}]
        assert bus.health().publish_errors == 0
    finally:
        await bus.close()


async def test_repeated_kills_never_crash_the_bus(redis_url: str) -> None:
    bus = await RedisBus.open(redis_url, backoff_initial=0.01)
    try:
        sub = await bus.subscribe(topics.LEAD_TRADES)
        for round_no in range(1, 4):
            await kill_client(redis_url, f"{bus.name}:sub")
            await kill_client(redis_url, f"{bus.name}:pub")
            await eventually(lambda n=round_no: bus.health().reconnects == n)  # type: ignore[misc]
            await eventually(lambda: bus.health().connected)
            await bus.publish(topics.LEAD_TRADES, {"round": round_no})
            assert await asyncio.wait_for(sub.get(), 2) == {"round": round_no}
    finally:
        await bus.close()


async def test_outage_degrades_backs_off_and_recovers(proxy: tuple[FlakyProxy, str]) -> None:
    flaky, url = proxy
    bus = await RedisBus.open(url, backoff_initial=0.02, backoff_cap=0.1)
    cache = RedisCache.from_url(url)
    try:
        before = await bus.subscribe(topics.TRADES)
        await cache.set("k", "v")
        flaky.cut()
        await eventually(lambda: not bus.health().connected)
        await bus.publish(topics.TRADES, {"lost": True})  # counted, not raised
        during = await bus.subscribe(topics.ENGINE_STATUS, mode="latest", key=None)
        with pytest.raises(CacheUnavailableError):
            await cache.get("k")
        await asyncio.sleep(0.5)
        await eventually(lambda: flaky.refused >= 3)  # a loaded machine retries later
        assert bus.health().publish_errors == 1 and not bus.health().connected
        assert flaky.refused <= 40  # capped backoff: a few tries in ~0.5 s, not a busy loop
        flaky.up = True
        await eventually(lambda: bus.health().connected)
        assert bus.health().reconnects == 1
        await bus.publish(topics.TRADES, {"back": 1})
        await bus.publish(topics.ENGINE_STATUS, {"state": "running"})
        assert await asyncio.wait_for(before.get(), 2) == {"back": 1}
        assert await asyncio.wait_for(during.get(), 2) == {"state": "running"}
        assert await cache.get("k") == b"v"
    finally:
        await bus.close()
        await cache.close()


async def test_foreign_garbage_on_a_topic_is_skipped_not_fatal(redis_url: str) -> None:
    bus = await RedisBus.open(redis_url)
    raw = aioredis.Redis.from_url(redis_url)
    try:
        sub = await bus.subscribe(topics.TRADES)
        for junk in (b"", b"jnot json", b"j[1, 2]", b"?what"):
            await raw.publish("oneclick:bus:trades", junk)
        await bus.publish(topics.TRADES, {"ok": True})
        assert await asyncio.wait_for(sub.get(), 2) == {"ok": True}
        assert bus.health().connected and bus.health().reconnects == 0
        assert bus.health().malformed == 4
    finally:
        await raw.aclose()
        await bus.close()


async def test_cache_survives_its_connection_being_killed(redis_url: str) -> None:
    cache = RedisCache.from_url(redis_url, client_name="oneclick-cache-fault-test")
    try:
        await cache.set("k", "v")
        await kill_client(redis_url, "oneclick-cache-fault-test")
        assert await cache.get("k") == b"v"  # the pool reconnects and retries
    finally:
        await cache.close()

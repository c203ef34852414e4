"""One contract for every Bus backend: the in-process one and the real Redis pub/sub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.base import Bus, Subscription
from oneclick_tui.stores.bus.memory import MemoryBus
from oneclick_tui.stores.bus.redis import RedisBus

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=BACKENDS)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        the_bus: Bus = MemoryBus()
    else:
        the_bus = await RedisBus.open(request.getfixturevalue("redis_url"))
    yield the_bus
    await the_bus.close()


async def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until `check()` holds (Redis delivers from another task), without sleeping long."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


def seen(sub: Subscription) -> int:
    return sub.qsize() + sub.dropped + sub.delivered


async def test_messages_arrive_in_order_decimals_as_strings(bus: Bus) -> None:
    sub = await bus.subscribe(topics.TRADES)
    await bus.publish(topics.TRADES, {"pair": "APT-USDC", "price": Decimal("8.12345678")})
    await bus.publish(topics.TRADES, b"\x01raw")
    await bus.publish(topics.LEAD_TRADES, {"not": "for this subscriber"})
    first = await asyncio.wait_for(sub.get(), 2)
    assert first == {"pair": "APT-USDC", "price": "8.12345678"}
    assert isinstance(first, dict) and Decimal(first["price"]) == Decimal("8.12345678")
    assert await asyncio.wait_for(sub.get(), 2) == b"\x01raw"
    await asyncio.sleep(0.02)
    assert sub.get_nowait() is None
    await sub.close()


async def test_each_subscriber_gets_every_message(bus: Bus) -> None:
    a = await bus.subscribe(topics.COPY_EVENTS)
    b = await bus.subscribe(topics.COPY_EVENTS)
    await bus.publish(topics.ENGINE_STATUS, {"nobody": "listens"})
    for i in range(5):
        await bus.publish(topics.COPY_EVENTS, {"n": i})
    got_a = [await asyncio.wait_for(a.get(), 2) for _ in range(5)]
    got_b = [await asyncio.wait_for(b.get(), 2) for _ in range(5)]
    assert got_a == got_b == [{"n": i} for i in range(5)]


async def test_only_dicts_and_bytes_are_messages(bus: Bus) -> None:
    with pytest.raises(TypeError):
        await bus.publish(topics.TRADES, ["a", "list"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await bus.publish(topics.TRADES, {"obj": object()})


async def test_slow_subscriber_drops_are_counted_publisher_never_blocks(bus: Bus) -> None:
    slow = await bus.subscribe(topics.TRADES, maxsize=10)
    fast = await bus.subscribe(topics.TRADES, maxsize=10_000)
    started = time.perf_counter()
    for i in range(1000):
        await bus.publish(topics.TRADES, {"n": i})
    assert time.perf_counter() - started < 2.0  # nobody read, yet publishing went on
    await eventually(lambda: seen(slow) == 1000 and seen(fast) == 1000)
    assert slow.qsize() == 10 and slow.dropped == 990
    assert fast.dropped == 0
    newest = [slow.get_nowait() for _ in range(10)]
    assert newest == [{"n": i} for i in range(990, 1000)]  # the oldest were dropped


async def test_latest_mode_keeps_only_newest_per_key(bus: Bus) -> None:
    book = await bus.subscribe(topics.book("APT-USDC"), mode="latest", key="pair")
    for i in range(50):
        for pair in ("APT-USDC", "BTC-USDC"):
            await bus.publish(topics.book("APT-USDC"), {"pair": pair, "seq": i})
    await eventually(lambda: seen(book) == 100)
    assert book.qsize() == 2 and book.dropped == 98
    assert book.get_nowait() == {"pair": "APT-USDC", "seq": 49}
    assert book.get_nowait() == {"pair": "BTC-USDC", "seq": 49}
    assert book.get_nowait() is None


async def test_latest_mode_without_key_keeps_one(bus: Bus) -> None:
    status = await bus.subscribe(topics.ENGINE_STATUS, mode="latest", key=None)
    for i in range(20):
        await bus.publish(topics.ENGINE_STATUS, {"tick": i})
    await eventually(lambda: seen(status) == 20)
    assert status.get_nowait() == {"tick": 19} and status.dropped == 19


async def test_iteration_ends_on_close_and_nothing_more_arrives(bus: Bus) -> None:
    sub = await bus.subscribe(topics.LEAD_TRADES)
    received: list[object] = []

    async def consume() -> None:
        async for message in sub:
            received.append(message)

    task = asyncio.create_task(consume())
    await bus.publish(topics.LEAD_TRADES, {"n": 1})
    await eventually(lambda: len(received) == 1)
    await sub.close()
    await asyncio.wait_for(task, 2)
    await bus.publish(topics.LEAD_TRADES, {"n": 2})
    await asyncio.sleep(0.02)
    assert received == [{"n": 1}] and sub.closed


async def test_resubscribe_after_last_subscriber_left(bus: Bus) -> None:
    first = await bus.subscribe(topics.TRADES)
    await first.close()
    again = await bus.subscribe(topics.TRADES)
    await bus.publish(topics.TRADES, {"back": True})
    assert await asyncio.wait_for(again.get(), 2) == {"back": True}


async def test_health_is_connected(bus: Bus) -> None:
    health = bus.health()
    assert health.connected and health.reconnects == 0 and health.publish_errors == 0


def test_book_topic_per_pair() -> None:
    assert topics.book("APT-USDC") == "book.APT-USDC"
    with pytest.raises(ValueError):
        topics.book("APT USDC")

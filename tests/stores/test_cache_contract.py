"""One contract for every Cache backend: the in-process one and the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneclick_tui.stores.cache.base import Cache, CacheError, WrongTypeError, session_key
from oneclick_tui.stores.cache.memory import MemoryCache
from oneclick_tui.stores.cache.redis import RedisCache

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=BACKENDS)
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    store: Cache = MemoryCache()
    if request.param == "redis":
        store = RedisCache.from_url(request.getfixturevalue("redis_url"))
    yield store
    await store.close()


async def test_values_round_trip_and_delete_counts(cache: Cache) -> None:
    await cache.set("a", "héllo")
    await cache.set("b", b"\x00\xff")
    assert await cache.get("a") == "héllo".encode()
    assert await cache.get_str("a") == "héllo"
    assert await cache.get("b") == b"\x00\xff"
    assert await cache.get("missing") is None
    assert await cache.delete("a", "b", "missing") == 2
    assert await cache.get("a") is None


async def _gone(cache: Cache, key: str, within: float = 10.0) -> None:
    """Wait (bounded) for a key to expire: a loaded machine only makes this take longer."""
    deadline = asyncio.get_running_loop().time() + within
    while await cache.ttl(key) is not None:
        assert asyncio.get_running_loop().time() < deadline, f"{key} never expired"
        await asyncio.sleep(0.05)


async def test_ttl_expiry_is_observed(cache: Cache) -> None:
    await cache.set("short", "x", ttl=1)
    await cache.set("forever", "y")
    left = await cache.ttl("short")
    assert left is not None and 0 < left <= 1
    assert await cache.ttl("forever") is None
    await _gone(cache, "short")
    assert await cache.get("short") is None
    assert await cache.get_str("forever") == "y"


async def test_expire_applies_to_a_hash(cache: Cache) -> None:
    await cache.hset_many("book", {"1.0": "3"})
    assert await cache.expire("book", 1)
    assert not await cache.expire("nothing", 1)
    assert await cache.hgetall("book") == {"1.0": "3"}
    await _gone(cache, "book")
    assert await cache.hgetall("book") == {}


async def test_json_keeps_decimals_exact_as_strings(cache: Cache) -> None:
    await cache.set_json("pos", {"size": Decimal("0.10000001"), "pair": "APT-USDC"})
    got = await cache.get_json("pos")
    assert got == {"size": "0.10000001", "pair": "APT-USDC"}
    assert Decimal(got["size"]) == Decimal("0.10000001")
    assert await cache.get_json("missing") is None


async def test_hash_levels_set_remove_and_bulk(cache: Cache) -> None:
    await cache.hset_many("book:bids", {"10.50": "2", "10.40": "5", "10.30": "1"})
    await cache.hset_many("book:bids", {"10.55": "7"}, remove=["10.30"])
    assert await cache.hgetall("book:bids") == {"10.50": "2", "10.40": "5", "10.55": "7"}
    assert await cache.hdel("book:bids", "10.50", "nope") == 1
    await cache.hset_bulk([("book:a", {"1": "1"}), ("book:b", {"2": "2", "3": "3"})])
    assert await cache.hgetall("book:b") == {"2": "2", "3": "3"}
    assert await cache.hdel("book:a", "1") == 1
    assert await cache.hgetall("book:a") == {}
    assert await cache.delete("book:a") == 0  # an emptied hash is gone


async def test_wrong_type_is_a_cache_error(cache: Cache) -> None:
    await cache.hset_many("h", {"f": "v"})
    with pytest.raises(WrongTypeError):
        await cache.get("h")
    await cache.set("s", "text")
    with pytest.raises(CacheError):
        await cache.incr("s")


async def test_leaderboard_rank_order_both_ways(cache: Cache) -> None:
    assert await cache.zadd_many("lb", {"alice": 12.5, "bob": 40.0, "carol": -3.0}) == 3
    assert await cache.zadd_many("lb", {"dave": 12.5, "carol": 50.0}) == 1
    assert await cache.ztop("lb", 3) == [("carol", 50.0), ("bob", 40.0), ("dave", 12.5)]
    assert await cache.ztop("lb", 2, descending=False) == [("alice", 12.5), ("dave", 12.5)]
    assert await cache.zrevrank("lb", "carol") == 0
    assert await cache.zrank("lb", "carol") == 3
    assert await cache.zrank("lb", "alice") == 0  # ties: by member name, like Redis
    assert await cache.zrank("lb", "nobody") is None
    assert await cache.zrem("lb", "carol", "nobody") == 1
    assert await cache.zrevrank("lb", "bob") == 0
    assert await cache.ztop("missing", 5) == []


async def test_counter_is_atomic_and_ttl_set_once(cache: Cache) -> None:
    """Concurrent increments all count; the window starts at the first one and a later
    increment does not extend it; after it, counting starts again. Bounds are generous:
    a loaded CI machine only makes the waits longer, never the assertions false."""
    results = await asyncio.gather(*(cache.incr("hits", ttl=30) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))
    first = await cache.ttl("hits")
    assert first is not None and 0 < first <= 30
    await asyncio.sleep(0.3)
    assert await cache.incr("hits", 10, ttl=30) == 60
    left = await cache.ttl("hits")
    assert left is not None and left <= first - 0.25  # the window was not extended
    assert await cache.incr("short", ttl=0.2) == 1
    deadline = asyncio.get_running_loop().time() + 10
    while await cache.ttl("short") is not None:
        assert asyncio.get_running_loop().time() < deadline, "the window never closed"
        await asyncio.sleep(0.05)
    assert await cache.incr("short") == 1


async def test_rate_limiter_refuses_after_burst_and_refills(cache: Cache) -> None:
    # 1 token/s: a stalled machine does not refill the bucket between these calls
    assert [await cache.allow("api", rate=1, burst=3) for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert await cache.allow("other", rate=1, burst=3)  # separate bucket
    await asyncio.sleep(1.05)  # one token back
    assert await cache.allow("api", rate=1, burst=3)
    assert not await cache.allow("api", rate=1, burst=3)


async def test_rate_limiter_is_atomic_under_concurrency(cache: Cache) -> None:
    verdicts = await asyncio.gather(*(cache.allow("burst", rate=1, burst=5) for _ in range(30)))
    assert verdicts.count(True) == 5


async def test_sessions_issue_validate_revoke_expire(cache: Cache) -> None:
    token = await cache.issue_session("user-1", ttl=60)
    short = await cache.issue_session("user-2", ttl=0.1)
    assert len(token) >= 40 and token != short
    assert await cache.validate_session(token) == "user-1"
    assert await cache.validate_session("forged") is None
    assert await cache.get(token) is None and await cache.get_str(session_key(token)) == "user-1"
    assert await cache.revoke_session(token)
    assert not await cache.revoke_session(token)
    assert await cache.validate_session(token) is None
    await asyncio.sleep(0.15)
    assert await cache.validate_session(short) is None


@pytest.mark.redis
async def test_prefix_namespaces_keys_on_redis(redis_url: str) -> None:
    mine, other = RedisCache.from_url(redis_url), RedisCache.from_url(redis_url, prefix="x:")
    raw = aioredis.Redis.from_url(redis_url)
    try:
        await mine.set("k", "mine")
        assert await other.get("k") is None
        assert await raw.get("oneclick:k") == b"mine"
    finally:
        for client in (mine, other):
            await client.close()
        await raw.aclose()


async def test_ping(cache: Cache) -> None:
    assert await cache.ping()


async def test_memory_clock_is_injectable() -> None:
    now = [1000.0]
    cache = MemoryCache(clock=lambda: now[0])
    await cache.set("k", "v", ttl=10)
    assert [await cache.allow("b", rate=1, burst=2) for _ in range(3)] == [True, True, False]
    now[0] += 9.9
    assert await cache.get("k") == b"v"
    now[0] += 0.2
    assert await cache.get("k") is None
    assert await cache.allow("b", rate=1, burst=2)
    assert await cache.allow("b", rate=1, burst=2)
    assert not await cache.allow("b", rate=1, burst=2)


@pytest.mark.redis
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.sampled_from([-1.5, 0.0, 1.0, 2.5, 1e9])),
        min_size=1,
        max_size=15,
    )
)
def test_memory_leaderboard_orders_exactly_like_redis(
    redis_url: str, ops: list[tuple[str, float]]
) -> None:
    async def compare() -> None:
        memory, real = MemoryCache(), RedisCache.from_url(redis_url)
        key = f"lb:{uuid.uuid4().hex}"
        for member, score in ops:
            await memory.zadd_many(key, {member: score})
            await real.zadd_many(key, {member: score})
        for descending in (True, False):
            assert await memory.ztop(key, 10, descending=descending) == await real.ztop(
                key, 10, descending=descending
            )
        for member in "abcdef":
            assert await memory.zrank(key, member) == await real.zrank(key, member)
            assert await memory.zrevrank(key, member) == await real.zrevrank(key, member)
        await real.delete(key)
        await real.close()

    asyncio.run(compare())

"""Cache and bus latency/throughput, in-process and on Redis.

    .venv/bin/python bench/bench_cache_bus.py                 # in-process only
    .venv/bin/python bench/bench_cache_bus.py --redis redis://127.0.0.1:6379/15

Measures, one operation in flight at a time: cache get/set latency (p50/p99), bus
publish->receive latency (p50/p99); then throughput: pipelined hash writes/s (`hset_bulk`)
and bus messages/s. A raw redis-py GET/SET is measured too, as the floor our wrapper adds to.
Keys live under "oneclick-bench:" and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aioredis

from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.bus.memory import MemoryBus
from oneclick_tui.stores.bus.redis import RedisBus
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.cache.memory import MemoryCache
from oneclick_tui.stores.cache.redis import RedisCache

PREFIX = "oneclick-bench:"
Row = tuple[str, str, str]


def _us(samples: list[int]) -> str:
    """p50 / p99 in microseconds from nanosecond samples."""
    cuts = statistics.quantiles(samples, n=100)
    return f"{cuts[49] / 1000:.1f} / {cuts[98] / 1000:.1f}"


async def _latency(op: Callable[[int], Awaitable[object]], n: int) -> list[int]:
    for i in range(min(n, 500)):  # warm up connections and caches
        await op(i)
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        await op(i)
        samples.append(time.perf_counter_ns() - start)
    return samples


async def bench_cache(name: str, cache: Cache, n: int) -> list[Row]:
    value = b"x" * 64
    await cache.set("k", value)
    rows = [
        (name, "cache set p50/p99 µs", _us(await _latency(lambda i: cache.set("k", value), n))),
        (name, "cache get p50/p99 µs", _us(await _latency(lambda i: cache.get("k"), n))),
    ]
    batch, total = 1000, 100_000
    start = time.perf_counter()
    for b in range(total // batch):
        await cache.hset_bulk([(f"h{i % 100}", {f"{b}.{i}": "1.5"}) for i in range(batch)])
    rate = total / (time.perf_counter() - start)
    rows.append((name, "pipelined HSET/s (batches of 1000)", f"{rate:,.0f}"))
    await cache.delete("k", *(f"h{i}" for i in range(100)))
    return rows


async def bench_bus(name: str, bus: Bus, n: int) -> list[Row]:
    sub = await bus.subscribe("bench", maxsize=n + 1)
    message = {"pair": "APT-USDC", "price": "8.12345678", "size": "12.5"}

    async def round_trip(_: int) -> None:
        await bus.publish("bench", message)
        await sub.get()

    rows = [(name, "bus publish->receive p50/p99 µs", _us(await _latency(round_trip, n)))]
    start = time.perf_counter()
    for _ in range(n):
        await bus.publish("bench", message)
    for _ in range(n):
        await asyncio.wait_for(sub.get(), 10)
    rate = n / (time.perf_counter() - start)
    rows.append((name, "bus publish+receive msgs/s (burst)", f"{rate:,.0f}"))
    await sub.close()
    return rows


async def bench_raw(url: str, n: int) -> list[Row]:
    client = aioredis.Redis.from_url(url)
    await client.set(PREFIX + "raw", b"x" * 64)
    get = _us(await _latency(lambda i: client.get(PREFIX + "raw"), n))
    await client.delete(PREFIX + "raw")
    await client.aclose()
    return [("redis-py raw", "GET p50/p99 µs (floor)", get)]


def machine(url: str | None, server: str | None) -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    try:
        import hiredis  # noqa: F401

        parser = "hiredis"
    except ImportError:
        parser = "pure-Python parser"
    where = f", Redis {server} at {url} ({parser})" if url else ""
    return f"{cpu}, Python {platform.python_version()}, {platform.system()}{where}"


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", metavar="URL", help="also benchmark this Redis")
    parser.add_argument("-n", type=int, default=5000, help="operations per latency figure")
    args = parser.parse_args()
    rows = await bench_cache("in-process", MemoryCache(prefix=PREFIX), args.n)
    rows += await bench_bus("in-process", MemoryBus(), args.n)
    server = None
    if args.redis:
        cache = RedisCache.from_url(args.redis, prefix=PREFIX)
        server = (await cache.client.info("server"))["redis_version"]
        rows += await bench_raw(args.redis, args.n)
        rows += await bench_cache("redis", cache, args.n)
        await cache.close()
        bus = await RedisBus.open(args.redis, prefix=PREFIX + "bus:")
        rows += await bench_bus("redis", bus, args.n)
        await bus.close()
    print(f"machine: {machine(args.redis, server)}\n")
    print("| backend | measure | value |\n|---|---|---|")
    for backend, measure, value in rows:
        print(f"| {backend} | {measure} | {value} |")


if __name__ == "__main__":
    asyncio.run(main())

"""Market feed throughput and latency: MarketPipeline.apply, then publish to cache and bus.

    .venv/bin/python bench/bench_feed.py                                   # in-process only
    .venv/bin/python bench/bench_feed.py --redis redis://127.0.0.1:6379/15 # also Redis

Measures:
1. Book updates applied per second through ``MarketPipeline.apply`` (the envelope the engine
   uses, not the bare OrderBook): a synthetic 25-level APT/USDC delta stream in batches and
   one event per call, and the simulator's real event mix (snapshots, deltas, trades, lead
   trades across six pairs).
2. Simulator feed -> cache/bus latency, per 200 ms tick: from the moment the tick's events are
   handed to ``apply`` until (a) ``publish_tick`` has written the top of every book to the
   cache, and (b) a reader task subscribed to the last-published pair's book topic holds the
   message. One tick in flight at a time, after warm-up. Keys live under "oneclick-bench:".
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oneclick_tui.domain.market_events import BookDelta, BookSide, BookSnapshot, MarketEvent
from oneclick_tui.services.engine.catalog import Catalog, PairInfo
from oneclick_tui.services.market import MarketPipeline, publish_tick
from oneclick_tui.services.sim.exchange import SimExchange
from oneclick_tui.services.sim.pairs import PAIRS
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.bus.memory import MemoryBus
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.cache.memory import MemoryCache

PREFIX = "oneclick-bench:"
START = datetime(2026, 11, 24, tzinfo=UTC)
TICK = timedelta(milliseconds=200)
Row = tuple[str, str, str]


def _catalog() -> Catalog:
    return Catalog({p.symbol: PairInfo(i, p) for i, p in enumerate(PAIRS, 1)}, {})


def _synthetic(n: int) -> tuple[BookSnapshot, list[BookDelta]]:
    """A 25-level book and n deltas (80% size updates, 10% removals, 10% re-adds), fresh
    Decimals every time as if parsed off the wire, never crossing."""
    tick = Decimal("0.0001")
    mid = 84_500
    bids = tuple((Decimal(mid - i) * tick, Decimal(10 + i)) for i in range(1, 26))
    asks = tuple((Decimal(mid + i) * tick, Decimal(10 + i)) for i in range(1, 26))
    snap = BookSnapshot("APT/USDC", 0, bids, asks, START)
    deltas: list[BookDelta] = []
    removed: dict[BookSide, list[int]] = {BookSide.BID: [], BookSide.ASK: []}
    for seq in range(1, n + 1):
        side = BookSide.BID if seq % 2 else BookSide.ASK
        level = 2 + (seq * 7) % 24  # keep the best level so the book never empties
        step = mid - level if side is BookSide.BID else mid + level
        roll = seq % 10
        if roll == 0 and level not in removed[side]:
            removed[side].append(level)
            size = Decimal(0)
        elif roll == 5 and removed[side]:
            back = removed[side].pop()
            step = mid - back if side is BookSide.BID else mid + back
            size = Decimal(seq % 97 + 1)
        else:
            if level in removed[side]:
                removed[side].remove(level)
            size = Decimal(seq % 89 + 1)
        deltas.append(BookDelta("APT/USDC", seq, side, Decimal(step) * tick, size, START))
    return snap, deltas


def bench_apply(n: int, repeat: int) -> list[Row]:
    rows: list[Row] = []
    best_batch = best_single = 0.0
    for _ in range(repeat):
        snap, deltas = _synthetic(n)
        pipeline = MarketPipeline(_catalog())
        pipeline.apply([snap])
        start = time.perf_counter()
        for i in range(0, n, 1000):
            pipeline.apply(deltas[i : i + 1000])
        best_batch = max(best_batch, n / (time.perf_counter() - start))
        assert pipeline.stats.rejected == 0 and pipeline.stats.gaps == 0, pipeline.stats
        assert pipeline.books["APT/USDC"].seq == n

        snap, deltas = _synthetic(n)
        pipeline = MarketPipeline(_catalog())
        pipeline.apply([snap])
        apply = pipeline.apply
        start = time.perf_counter()
        for delta in deltas:
            apply((delta,))
        best_single = max(best_single, n / (time.perf_counter() - start))
    rows.append(("apply", "synthetic deltas/s, batches of 1000", f"{best_batch:,.0f}"))
    rows.append(("apply", "synthetic deltas/s, one event per call", f"{best_single:,.0f}"))
    return rows


def bench_sim_mix(seconds: int, repeat: int) -> list[Row]:
    events: list[MarketEvent] = SimExchange(7, START).advance(seconds)
    deltas = sum(isinstance(e, BookDelta) for e in events)
    best = 0.0
    for _ in range(repeat):
        pipeline = MarketPipeline(_catalog())
        start = time.perf_counter()
        for i in range(0, len(events), 1000):
            pipeline.apply(events[i : i + 1000])
        best = max(best, len(events) / (time.perf_counter() - start))
        assert pipeline.stats.rejected == 0 and pipeline.stats.gaps == 0, pipeline.stats
    share = deltas / len(events)
    return [
        (
            "apply",
            f"simulator mix events/s ({len(events):,} events, {share:.0%} deltas, 6 pairs)",
            f"{best:,.0f}",
        )
    ]


def _us(samples: list[int]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return f"{cuts[49] / 1000:.1f} / {cuts[98] / 1000:.1f}"


async def bench_latency(name: str, bus: Bus, cache: Cache, ticks: int) -> list[Row]:
    sim = SimExchange(7, START)
    pipeline = MarketPipeline(_catalog())
    last_pair = list(pipeline.books)[-1]
    sub = await bus.subscribe(topics.book(last_pair), maxsize=ticks + 64)
    got = asyncio.Event()
    received: list[int] = []

    async def reader() -> None:
        async for _ in sub:
            received.append(time.perf_counter_ns())
            got.set()

    task = asyncio.create_task(reader())
    to_cache: list[int] = []
    to_bus: list[int] = []
    sizes: list[int] = []
    warmup = 50
    for i in range(ticks + warmup):
        events = sim.advance(TICK)  # the feed produces the tick (not timed)
        got.clear()
        t0 = time.perf_counter_ns()
        pipeline.apply(events)
        await publish_tick(pipeline, bus, cache, sim.now)
        t_cache = time.perf_counter_ns()
        await asyncio.wait_for(got.wait(), 10)
        if i >= warmup:
            sizes.append(len(events))
            to_cache.append(t_cache - t0)
            to_bus.append(received[-1] - t0)
    await sub.close()
    await task
    await cache.delete(*(f"tob:{p}" for p in pipeline.books))
    per_tick = statistics.mean(sizes)
    return [
        (name, f"feed -> cache written p50/p99 µs ({per_tick:.0f} events/tick)", _us(to_cache)),
        (name, "feed -> bus reader has book p50/p99 µs", _us(to_bus)),
    ]


def machine() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    cpu = next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), "?")
    cores = sum(x.startswith("processor") for x in lines) or "?"
    return f"{cpu} ({cores} cores), Python {platform.python_version()}, {platform.system()}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--redis", metavar="URL", help="also measure latency through Redis")
    parser.add_argument("--deltas", type=int, default=200_000, help="synthetic deltas")
    parser.add_argument("--sim-seconds", type=int, default=600, help="simulated seconds")
    parser.add_argument("--ticks", type=int, default=2000, help="ticks per latency figure")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for throughput")
    args = parser.parse_args()
    rows = bench_apply(args.deltas, args.repeat)
    rows += bench_sim_mix(args.sim_seconds, args.repeat)
    rows += await bench_latency("in-process", MemoryBus(), MemoryCache(prefix=PREFIX), args.ticks)
    if args.redis:
        from oneclick_tui.stores.bus.redis import RedisBus
        from oneclick_tui.stores.cache.redis import RedisCache

        cache = RedisCache.from_url(args.redis, prefix=PREFIX)
        bus = await RedisBus.open(args.redis, prefix=PREFIX + "bus:")
        rows += await bench_latency("redis", bus, cache, args.ticks)
        await bus.close()
        await cache.close()
    print(f"machine: {machine()}\n")
    print("| backend | measure | value |\n|---|---|---|")
    for backend, measure, value in rows:
        print(f"| {backend} | {measure} | {value} |")


if __name__ == "__main__":
    asyncio.run(main())

"""Console benchmarks: cold start, ladder frame rate and key latency under a book storm, memory.

Run: .venv/bin/python bench/bench_console.py [--storm-rate 10000] [--seconds 5]

- cold start: from creating the app to the first drawn screen, and to the first live book;
- ladder fps and key p50/p99 while the order book receives --storm-rate updates per second
  (deltas applied to a real OrderBook by the market pipeline, published at 20 Hz like the
  engine does), keys posted as the terminal driver would;
- memory (max RSS) after a simulated hour of the built-in market at high speed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from textual import events
from textual.widgets import DataTable

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.domain.market_events import BookSide
from oneclick_tui.services.market import publish_tick
from oneclick_tui.widgets.ladder import Ladder


def _settings(tmp: Path, speed: float = 1.0) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}", sim=SimSettings(seed=7, speed=speed)
    )


async def _wait(predicate, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.002)


async def cold_start(tmp: Path) -> tuple[float, float]:
    """Seconds to the first drawn screen and to the first live book (database exists)."""
    started = time.monotonic()
    app = OneClickApp(_settings(tmp))
    async with app.run_test(size=(160, 45)):
        await _wait(lambda: app.screen.query(Ladder))
        first_frame = time.monotonic() - started
        await _wait(lambda: app.screen.query_one(Ladder).snapshot is not None)
        live = time.monotonic() - started
        await app.shutdown()
    return first_frame, live


async def storm(tmp: Path, rate: int, seconds: float) -> tuple[float, float, float, int]:
    """Ladder frames per second and key latency p50/p99 (ms) during a delta storm."""
    app = OneClickApp(_settings(tmp), run_engine=False)
    frames = 0
    original = Ladder.render

    def counting_render(self: Ladder):  # type: ignore[no-untyped-def]
        nonlocal frames
        frames += 1
        return original(self)

    Ladder.render = counting_render  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(160, 45)):
            await _wait(lambda: app.ctx is not None)
            ctx = app.ctx
            assert ctx is not None
            from oneclick_tui.services.market import MarketPipeline
            from oneclick_tui.services.sim.exchange import SimExchange

            exchange = SimExchange(7, datetime.now(UTC))
            pipeline = MarketPipeline(ctx.services.catalog, snapshot_source=exchange)
            pipeline.apply(exchange.advance(1))
            stop = asyncio.Event()
            applied = 0

            async def feed() -> None:
                nonlocal applied
                rng = random.Random(1)
                book = pipeline.books["APT/USDC"]
                due = time.monotonic()
                while not stop.is_set():
                    bids = [p for p, _ in book.bids(20)]
                    for _ in range(rate // 20):
                        price = bids[rng.randrange(len(bids))]
                        book.apply(book.seq + 1, BookSide.BID, price, Decimal(rng.randint(1, 999)))
                        applied += 1
                    await publish_tick(pipeline, ctx.bus, ctx.cache, datetime.now(UTC))
                    due += 0.05  # a fixed schedule, so the rate is the rate asked for
                    await asyncio.sleep(max(0.0, due - time.monotonic()))

            task = asyncio.create_task(feed())
            await asyncio.sleep(1)
            frames = 0
            applied_before = applied
            table = app.screen.query_one("#pairs", DataTable)
            latencies: list[float] = []
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                key = "j" if table.cursor_row == 0 else "k"
                before = table.cursor_row
                t0 = time.monotonic()
                app.post_message(events.Key(key, key))
                await _wait(lambda b=before: table.cursor_row != b, 5)
                latencies.append((time.monotonic() - t0) * 1000)
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - began
            fps = frames / elapsed
            measured_rate = int((applied - applied_before) / elapsed)
            stop.set()
            await task
            await app.shutdown()
    finally:
        Ladder.render = original  # type: ignore[method-assign]
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return fps, statistics.median(latencies), p99, measured_rate


async def memory_after_hour(tmp: Path, speed: float) -> tuple[float, float]:
    """Max RSS (MiB) after the console ran one simulated hour at `speed`."""
    app = OneClickApp(_settings(tmp, speed))
    async with app.run_test(size=(160, 45)):
        await _wait(
            lambda: (
                app.ctx is not None
                and app.ctx.runner is not None
                and app.ctx.runner.exchange is not None
            )
        )
        runner = app.ctx.runner  # type: ignore[union-attr]
        start = runner.exchange.now  # type: ignore[union-attr]
        await _wait(lambda: (runner.exchange.now - start).total_seconds() >= 3600, 600)  # type: ignore[union-attr]
        await app.shutdown()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 3600 / speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--storm-rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=200.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        asyncio.run(cold_start(tmp))  # first start creates and migrates the database
        frame, live = asyncio.run(cold_start(tmp))
        print(
            f"cold start: first screen {frame * 1000:.0f} ms, first live book {live * 1000:.0f} ms"
        )
        fps, p50, p99, rate = asyncio.run(storm(tmp, args.storm_rate, args.seconds))
        print(
            f"storm ~{rate}/s book updates: ladder {fps:.1f} fps, key p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms"
        )
    with tempfile.TemporaryDirectory() as d:
        rss, wall = asyncio.run(memory_after_hour(Path(d), args.speed))
        print(
            f"memory after 1 simulated hour ({wall:.0f} s at {args.speed}x): max RSS {rss:.0f} MiB"
        )


if __name__ == "__main__":
    main()

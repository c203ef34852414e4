"""Order book and simulator throughput.

Run:  .venv/bin/python bench/bench_orderbook.py [--deltas 300000] [--sim-seconds 1800]

Prints deltas applied per second (per-call ``apply``, batched ``apply_many``, with and without
tick validation, for an update-heavy mix, a churn-heavy mix and the simulator's own stream)
and simulator events generated per second. Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from oneclick_tui.domain.market_events import BookDelta, BookSide, BookSnapshot
from oneclick_tui.domain.orderbook import OrderBook, RawDelta
from oneclick_tui.services.sim import SimExchange

Snapshot = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]


def workload(n: int, p_update: float, seed: int = 2) -> tuple[Snapshot, list[RawDelta]]:
    """A valid stream around mid 100.00 (tick 0.01), 40-50 levels a side: updates, else
    removals/new levels (``p_update`` = share of updates)."""
    rng = random.Random(seed)
    sign = {BookSide.BID: -1, BookSide.ASK: 1}
    books = {side: {i: rng.randint(1, 100) for i in range(1, 51)} for side in sign}  # tick offsets

    def price(side: BookSide, offset: int) -> Decimal:
        return Decimal(10_000 + sign[side] * offset) / 100

    snap = tuple([(price(s, o), Decimal(q)) for o, q in books[s].items()] for s in sign)
    rows: list[RawDelta] = []
    for seq in range(1, n + 1):
        side = BookSide.BID if rng.random() < 0.5 else BookSide.ASK
        levels = books[side]
        if rng.random() < p_update:
            offset, size = rng.choice(list(levels)), rng.randint(1, 100)
        elif len(levels) > 50 or (len(levels) > 40 and rng.random() < 0.5):
            offset, size = rng.choice(list(levels)), 0
        else:  # a new level somewhere in the 100 ticks behind the touch
            offset = rng.choice([o for o in range(1, 101) if o not in levels])
            size = rng.randint(1, 100)
        if size:
            levels[offset] = size
        else:
            del levels[offset]
        # fresh objects, as parsed off the wire (a reused Decimal has its hash cached)
        rows.append((seq, side, price(side, offset), Decimal(size)))
    return (snap[0], snap[1]), rows


def best_rate(n: int, repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return n / best


def bench_deltas(n: int, repeat: int) -> None:
    for label, p_update in (("update-heavy 80/10/10", 0.8), ("churn 0/50/50", 0.0)):
        snap, rows = workload(n, p_update)
        for tick in (None, Decimal("0.01")):

            def fresh() -> OrderBook:
                book = OrderBook("X", tick_size=tick)  # noqa: B023
                book.load(0, *snap)  # noqa: B023
                return book

            def per_call() -> None:
                apply = fresh().apply
                for seq, side, price, size in rows:  # noqa: B023
                    apply(seq, side, price, size)

            def batched() -> None:
                assert fresh().apply_many(rows)[0] == len(rows)  # noqa: B023

            ticks = "tick-checked" if tick else "no tick check"
            print(f"  {label:22} {ticks:13} apply      {best_rate(n, repeat, per_call):>12,.0f}/s")
            print(f"  {label:22} {ticks:13} apply_many {best_rate(n, repeat, batched):>12,.0f}/s")


def bench_sim(seconds: int, repeat: int) -> list[BookSnapshot | BookDelta]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    counts: list[int] = []

    def run() -> None:
        counts.append(len(SimExchange(1, start).advance(seconds)))

    rate = best_rate(1, repeat, run)
    print(f"  simulator: {counts[-1]:,} events for {seconds}s simulated, "
          f"{counts[-1] * rate:,.0f} events/s, {seconds * rate:,.0f}x real time")  # fmt: skip
    events = SimExchange(1, start).advance(seconds)
    return [e for e in events if isinstance(e, BookSnapshot | BookDelta) and e.pair == "APT/USDC"]


def bench_replay(stream: list[BookSnapshot | BookDelta], repeat: int) -> None:
    first = next(i for i, e in enumerate(stream) if isinstance(e, BookSnapshot))
    snap = stream[first]
    assert isinstance(snap, BookSnapshot)
    deltas = [e for e in stream[first:] if isinstance(e, BookDelta)]

    def per_event() -> None:
        book = OrderBook(snap.pair, tick_size=Decimal("0.0001"))
        book.apply_snapshot(snap)
        for e in stream[first + 1 :]:
            if isinstance(e, BookDelta):
                book.apply_delta(e)
            else:
                book.apply_snapshot(e)

    batches: list[BookSnapshot | list[BookDelta]] = []
    for e in stream[first + 1 :]:
        if isinstance(e, BookSnapshot):
            batches.append(e)
        elif batches and isinstance(batches[-1], list):
            batches[-1].append(e)
        else:
            batches.append([e])

    def batched() -> None:
        book = OrderBook(snap.pair, tick_size=Decimal("0.0001"))
        book.apply_snapshot(snap)
        for item in batches:
            if isinstance(item, list):
                book.apply_deltas(item)
            else:
                book.apply_snapshot(item)

    label = f"  replay sim APT/USDC stream ({len(deltas):,} BookDelta)"
    print(f"{label} apply_delta  {best_rate(len(deltas), repeat, per_event):>12,.0f}/s")
    print(f"{label} apply_deltas {best_rate(len(deltas), repeat, batched):>12,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=300_000)
    parser.add_argument("--sim-seconds", type=int, default=1800)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} {platform.processor()}")
    print(f"order book, {args.deltas:,} deltas, best of {args.repeat}:")
    bench_deltas(args.deltas, args.repeat)
    print("simulator:")
    stream = bench_sim(args.sim_seconds, max(1, args.repeat // 2))
    bench_replay(stream, args.repeat)


if __name__ == "__main__":
    main()

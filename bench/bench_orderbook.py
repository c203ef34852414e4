"""Order book and simulator throughput.

Run:  .venv/bin/python bench/bench_orderbook.py [--deltas 300000] [--sim-seconds 1800]

Prints deltas applied per second (per-call ``apply``, batched ``apply_many``, with and without
tick validation, for an update-heavy mix and a churn-heavy mix), simulator events generated per
second, and the simulator's APT/USDC stream replayed into a tick-checked book (per event with
``apply_delta``, in runs between snapshots with ``apply_deltas``):

- wire: the stream as JSON messages, parsed one simulated second at a time (not timed) and
  applied right away, the way a feed handler works: fresh objects, warm in cache;
- sim objects: the simulator's own event objects, ``--sim-seconds`` of them built up front
  and replayed (what this bench used to report): memory-bound, see docs/benchmarks/orderbook.md;
- live: the engine's shape, advance the simulator 1 s and apply that second's events at once.

Best of ``--repeat`` runs (live: half as many).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from oneclick_tui.domain.market_events import BookDelta, BookSide, BookSnapshot
from oneclick_tui.domain.orderbook import OrderBook, RawDelta
from oneclick_tui.services.sim import SimExchange

Snapshot = tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]
PAIR = "APT/USDC"
ONE_S = timedelta(seconds=1)


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
    return [e for e in events if isinstance(e, BookSnapshot | BookDelta) and e.pair == PAIR]


def to_wire(event: BookSnapshot | BookDelta) -> str:
    """One JSON message per event, prices and sizes as strings (how L2 feeds send them)."""
    if isinstance(event, BookDelta):
        body: dict[str, object] = {
            "type": "delta",
            "side": event.side.value,
            "price": str(event.price),
            "size": str(event.size),
        }
    else:
        body = {
            "type": "snapshot",
            "bids": [[str(p), str(q)] for p, q in event.bids],
            "asks": [[str(p), str(q)] for p, q in event.asks],
        }
    body.update(pair=event.pair, seq=event.seq, at=event.at.isoformat())
    return json.dumps(body)


def from_wire(message: str) -> BookSnapshot | BookDelta:
    """Parse :func:`to_wire` back: fresh str, int and Decimal objects, as a feed handler has."""
    body = json.loads(message)
    at = datetime.fromisoformat(body["at"])
    if body["type"] == "delta":
        side, price, size = BookSide(body["side"]), Decimal(body["price"]), Decimal(body["size"])
        return BookDelta(body["pair"], body["seq"], side, price, size, at)
    bids = tuple((Decimal(p), Decimal(q)) for p, q in body["bids"])
    asks = tuple((Decimal(p), Decimal(q)) for p, q in body["asks"])
    return BookSnapshot(body["pair"], body["seq"], bids, asks, at)


def _batches(events: list[BookSnapshot | BookDelta]) -> list[BookSnapshot | list[BookDelta]]:
    """Runs of deltas between snapshots, for ``apply_deltas``."""
    batches: list[BookSnapshot | list[BookDelta]] = []
    for e in events:
        if isinstance(e, BookSnapshot):
            batches.append(e)
        elif batches and isinstance(batches[-1], list):
            batches[-1].append(e)
        else:
            batches.append([e])
    return batches


def _replay(book: OrderBook, events: list[BookSnapshot | BookDelta], batched: bool) -> float:
    """Seconds spent applying ``events`` to ``book`` one by one or in batches."""
    if batched:
        batches = _batches(events)
        t = time.perf_counter()
        for item in batches:
            if isinstance(item, list):
                book.apply_deltas(item)
            else:
                book.apply_snapshot(item)
        return time.perf_counter() - t
    t = time.perf_counter()
    for e in events:
        if isinstance(e, BookDelta):
            book.apply_delta(e)
        else:
            book.apply_snapshot(e)
    return time.perf_counter() - t


def _sim_book() -> OrderBook:
    return OrderBook(PAIR, tick_size=Decimal("0.0001"))


def bench_replay(stream: list[BookSnapshot | BookDelta], repeat: int) -> None:
    first = next(i for i, e in enumerate(stream) if isinstance(e, BookSnapshot))
    own = stream[first:]
    messages = [to_wire(e) for e in own]
    assert [from_wire(m) for m in messages] == own
    start = own[0].at
    by_second = groupby(zip(own, messages, strict=True), key=lambda em: (em[0].at - start) // ONE_S)
    frames = [[m for _, m in group] for _, group in by_second]
    n = sum(isinstance(e, BookDelta) for e in own)
    minutes = round((own[-1].at - start) / timedelta(minutes=1))
    print(f"  replay sim {PAIR} stream ({n:,} BookDelta, "
          f"{len(own) - n} snapshots, tick-checked), best of {repeat}:")  # fmt: skip
    for batched in (False, True):
        best = float("inf")
        for _ in range(repeat):
            book, spent = _sim_book(), 0.0
            for frame in frames:  # a feed handler: parse what arrived (not timed), apply it
                spent += _replay(book, [from_wire(m) for m in frame], batched)
            best = min(best, spent)
        _row("wire, 1 s parsed then applied", batched, n / best)
    for batched in (False, True):
        best = min(_replay(_sim_book(), own, batched) for _ in range(repeat))
        _row(f"sim objects, {minutes} min built first", batched, n / best)


def bench_live(seconds: int, repeat: int) -> None:
    """The engine's shape: advance the simulator 1 s, apply that second's events at once."""
    for batched in (False, True):
        best = 0.0
        for _ in range(repeat):
            exchange, book = SimExchange(1, datetime(2026, 1, 1, tzinfo=UTC)), _sim_book()
            spent, n = 0.0, 0
            for _ in range(seconds):
                events = [e for e in exchange.advance(1) if isinstance(e, BookSnapshot | BookDelta)
                          and e.pair == PAIR]  # fmt: skip
                spent += _replay(book, events, batched)
                n += sum(isinstance(e, BookDelta) for e in events)
            assert not book.needs_resync and book.seq == exchange.book(PAIR).seq
            best = max(best, n / spent)
        _row(f"live: advance 1 s x{seconds}, best of {repeat}", batched, best)


def _row(label: str, batched: bool, rate: float) -> None:
    name = "apply_deltas" if batched else "apply_delta "
    print(f"    {label:36} {name} {rate:>12,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=300_000)
    parser.add_argument("--sim-seconds", type=int, default=1800)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--live-seconds", type=int, default=600)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} {platform.processor()}")
    print(f"order book, {args.deltas:,} deltas, best of {args.repeat}:")
    bench_deltas(args.deltas, args.repeat)
    print("simulator:")
    stream = bench_sim(args.sim_seconds, max(1, args.repeat // 2))
    bench_replay(stream, args.repeat)
    bench_live(args.live_seconds, max(1, args.repeat // 2))


if __name__ == "__main__":
    main()

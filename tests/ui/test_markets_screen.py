"""Markets: the live ladder, pair and timeframe switching, a fixed-clock snapshot, and key
presses that stay prompt while the order book is flooded."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.stores.bus import topics
from oneclick_tui.widgets.candle_chart import CandleChart
from oneclick_tui.widgets.ladder import Ladder
from tests.ui.conftest import Console, wait_until

FIXED_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def book_message(pair: str, seq: int, mid: D = D("8.45")) -> dict[str, Any]:
    step = D("0.0010")
    return {
        "key": pair,
        "pair": pair,
        "seq": seq,
        "at": FIXED_NOW.isoformat(),
        "bids": [[str(mid - step * (i + 1)), str(D(100 + 10 * i))] for i in range(15)],
        "asks": [[str(mid + step * (i + 1)), str(D(120 + 10 * i))] for i in range(15)],
        "last": str(mid),
        "change_24h_pct": "1.25",
    }


def ladder(app: OneClickApp) -> Ladder:
    return app.screen.query_one(Ladder)


async def test_live_ladder_shows_asks_over_bids_with_spread(console: Console) -> None:
    async with console() as (app, pilot):
        await wait_until(pilot, lambda: ladder(app).snapshot is not None, 30, "a live book")
        text = ladder(app).render().plain
        snap = ladder(app).snapshot
        assert snap is not None and snap.best_ask is not None and snap.best_bid is not None
        assert snap.best_ask > snap.best_bid
        lines = text.splitlines()
        spread_row = next(i for i, line in enumerate(lines) if "spread" in line)
        assert f"{snap.best_ask}" in lines[spread_row - 1]  # best ask right above the spread
        assert f"{snap.best_bid}" in lines[spread_row + 1]  # best bid right below it
        assert "bps" in lines[spread_row]


async def test_j_selects_the_next_pair_and_t_switches_timeframe(console: Console) -> None:
    async with console() as (app, pilot):
        await wait_until(pilot, lambda: ladder(app).snapshot is not None, 30, "a live book")
        first = ladder(app).snapshot.pair  # type: ignore[union-attr]
        await pilot.press("j")
        await wait_until(pilot, lambda: ladder(app).snapshot.pair != first, 10, "pair change")  # type: ignore[union-attr]
        table = app.screen.query_one("#pairs", DataTable)
        assert (
            ladder(app).snapshot.pair
            == table.coordinate_to_cell_key(  # type: ignore[union-attr]
                table.cursor_coordinate
            ).row_key.value
        )
        await pilot.press("t")
        chart = app.screen.query_one(CandleChart)
        await wait_until(pilot, lambda: " 5m " in chart.title, 10, "5m candles")


async def test_keys_stay_prompt_during_an_order_book_storm(tmp_path: Path) -> None:
    """Thousands of book messages a second must not starve or drop a key press.

    A liveness check, not a speed test: each key must land while the storm goes on (the
    bound is generous, for a loaded CI machine). How fast keys land is measured by
    `bench/bench_console.py` (docs/BENCHMARKS.md).
    """
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'storm.db'}")
    app = OneClickApp(settings, run_engine=False)
    async with app.run_test(size=(160, 45)) as pilot:
        try:
            await _storm_while_pressing_keys(app, pilot)
        finally:
            await app.shutdown()


async def _storm_while_pressing_keys(app: OneClickApp, pilot: Pilot[None]) -> None:
    """Flood every pair's book topic while pressing j, timing each key until it lands."""
    await wait_until(pilot, lambda: app.ctx is not None, 60, "boot")
    assert app.ctx is not None
    bus, pairs = app.ctx.bus, app.ctx.pairs
    stop = asyncio.Event()

    async def storm() -> int:
        sent = 0
        while not stop.is_set():
            for _ in range(50):
                pair = pairs[sent % len(pairs)]
                await bus.publish(topics.book(pair), book_message(pair, sent))
                sent += 1
            await asyncio.sleep(0)
        return sent

    flood = asyncio.create_task(storm())
    table = app.screen.query_one("#pairs", DataTable)
    landed = 0
    for _ in range(len(pairs) - 1):
        before = table.cursor_row
        started = time.monotonic()
        # Post the key as the terminal driver would; Pilot.press would also wait for the
        # app to go idle, which a storm never allows, and that wait is not the user's.
        app.post_message(events.Key("j", "j"))
        while table.cursor_row != before + 1 and time.monotonic() - started < 5:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        landed += table.cursor_row == before + 1
    stop.set()
    sent = await flood
    assert sent > 1_000, "the storm did not reach the console"
    assert landed == len(pairs) - 1, f"{len(pairs) - 1 - landed} key presses starved or lost"
    await wait_until(pilot, lambda: ladder(app).snapshot is not None, 5, "the book drawn")


def _snapshot_app(tmp_path: Path) -> OneClickApp:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'snap.db'}", sim=SimSettings(seed=7)
    )
    return OneClickApp(settings, clock=lambda: FIXED_NOW, run_engine=False)


def test_markets_snapshot_with_fixed_clock(snap_compare: Any, tmp_path: Path) -> None:
    app = _snapshot_app(tmp_path)

    async def inject(pilot: Pilot[None]) -> None:
        await wait_until(pilot, lambda: app.ctx is not None, 60, "boot")
        assert app.ctx is not None
        for seq, pair in enumerate(app.ctx.pairs):
            await app.ctx.bus.publish(topics.book(pair), book_message(pair, seq))
        await wait_until(pilot, lambda: ladder(app).snapshot is not None, 10, "the book")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(140, 40), run_before=inject)


def test_a_fill_marks_the_nearest_visible_level_only() -> None:
    from oneclick_tui.widgets.ladder import nearest_levels

    levels = [D("8.46"), D("8.45"), D("8.44")]
    assert nearest_levels(frozenset({D("8.4520")}), levels) == {D("8.45")}
    assert nearest_levels(frozenset({D("9.50")}), levels) == set()  # far from the book


async def test_own_recent_fills_are_marked_on_the_ladder(console: Console) -> None:
    async with console() as (app, pilot):
        for trader in await app.ctx.follows.traders():
            if trader.risk_category in ("low", "medium"):
                await app.ctx.follows.follow(trader.name, D(25))
        filled = None
        for _ in range(600):
            done = [t for t in await app.ctx.follows.trades(50) if t.status == "completed"]
            if done:
                filled = done[0]
                break
            await asyncio.sleep(0.1)
        assert filled is not None, "no copy was filled"
        app.screen.show_pair(filled.pair)  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: filled.price in ladder(app).own_fills, 10, "own fill")
        await wait_until(pilot, lambda: "◆" in ladder(app).render().plain, 10, "the ◆ marker")

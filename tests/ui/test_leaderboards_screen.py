"""Leaderboards: ranks from the analytics service, period and metric switching by key."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Static

from oneclick_tui.screens.leaderboards import LeaderboardsScreen
from tests.ui.conftest import Console, wait_until


async def test_leaderboard_shows_ranked_traders_and_switches_metric(console: Console) -> None:
    async with console() as (app, pilot):
        for _ in range(200):  # let the simulator trade for a few simulated minutes
            if len([t for t in await app.ctx.follows.traders() if t.trades >= 3]) >= 3:
                break
            await asyncio.sleep(0.1)
        await app.ctx.analytics.recompute(None)
        expected = await app.ctx.analytics.leaderboard(
            LeaderboardsScreen().period, LeaderboardsScreen().metric, 100
        )
        assert expected, "the analytics service ranked nobody"
        await pilot.press("6")
        await wait_until(pilot, lambda: isinstance(app.screen, LeaderboardsScreen), 10, "mode 6")
        table = app.screen.query_one("#board", DataTable)
        await wait_until(pilot, lambda: table.row_count == len(expected), 15, "ranked rows")
        first = table.get_row_at(0)
        assert first[0] == expected[0].rank and first[2] == expected[0].trader
        ranks = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert ranks == sorted(ranks)

        title = app.screen.query_one("#board-title", Static)
        await pilot.press("m")
        await wait_until(pilot, lambda: "sharpe" in str(title.render()), 10, "metric switch")
        await pilot.press("p")
        await wait_until(pilot, lambda: "monthly" in str(title.render()), 10, "period switch")

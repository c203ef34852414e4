"""Leaderboards: lead traders ranked per period and metric, with their rank changes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from oneclick_tui.domain.ranking import RankMetric
from oneclick_tui.messages import Booted
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.services.analytics.leaderboard import LeaderboardEntry
from oneclick_tui.services.analytics.performance import Period
from oneclick_tui.widgets.cells import sync_rows

REFRESH_SECONDS = 5.0
PERIODS = (Period.DAILY, Period.WEEKLY, Period.MONTHLY, Period.ALL_TIME)
METRICS = tuple(RankMetric)


class LeaderboardsScreen(ConsoleScreen):
    """Mode 6: who leads, by which measure, and who is climbing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "next_period", "Period", id="leaderboards.period"),
        Binding("m", "next_metric", "Metric", id="leaderboards.metric"),
        Binding("j", "cursor_down", "Down", show=False, id="leaderboards.down"),
        Binding("k", "cursor_up", "Up", show=False, id="leaderboards.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.period = Period.WEEKLY
        self.metric = RankMetric.RETURN_PCT

    def body(self) -> ComposeResult:
        yield Static(id="board-title")
        yield DataTable(id="board", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#board", DataTable)
        for label, key in (
            ("Rank", "rank"),
            ("Move", "move"),
            ("Trader", "trader"),
            ("Score", "score"),
            ("Trades", "trades"),
        ):
            table.add_column(label, key=key)
        self.set_interval(REFRESH_SECONDS, self.refresh_data)
        self.refresh_data()

    def on_booted(self, _: Booted) -> None:
        self.refresh_data()

    def action_next_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]
        self.refresh_data()

    def action_next_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.refresh_data()

    def action_cursor_down(self) -> None:
        self.query_one("#board", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#board", DataTable).action_cursor_up()

    def refresh_data(self) -> None:
        if self.is_mounted:
            self._load()

    @work(exclusive=True, group="leaderboard", exit_on_error=False)
    async def _load(self) -> None:
        ctx = self.ctx
        order = "lowest first" if self.metric.ascending else "highest first"
        self.query_one("#board-title", Static).update(
            Text.assemble(
                ("Leaderboard ", "bold"),
                f"{self.period.value} · {self.metric.value} ({order})   p: period  m: metric",
            )
        )
        if ctx is None:
            return
        entries = await ctx.analytics.leaderboard(self.period, self.metric, 100)
        sync_rows(
            self.query_one("#board", DataTable), {str(e.trader_id): _cells(e) for e in entries}
        )


def _cells(entry: LeaderboardEntry) -> list[object]:
    if entry.movement == "new":
        move = Text("new", style="cyan")
    elif entry.movement == "same" or entry.places == 0:
        move = Text("=", style="dim")
    else:
        move = Text(f"{entry.places:+d}", style="green" if entry.places > 0 else "red")
    return [
        entry.rank,
        move,
        entry.trader,
        Text(f"{entry.score.normalize():f}", justify="right"),
        entry.trades,
    ]

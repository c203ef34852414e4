"""Markets: the pair list, the live order-book ladder, recent trades and a candle chart.

Book updates arrive as `BookUpdated` messages (coalesced per pair); they are only stored,
and a 10 Hz timer draws the newest one, so the feed's rate never decides the redraw rate.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from oneclick_tui.messages import BookUpdated, Booted, CopyActivity, MarketTrades
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.services.engine.runner import EngineRunner
from oneclick_tui.services.market_view import TIMEFRAMES, candle_bars
from oneclick_tui.stores.timeseries.base import TimeSeriesError
from oneclick_tui.widgets.candle_chart import CandleChart
from oneclick_tui.widgets.ladder import Ladder

REDRAW_SECONDS = 1 / 12
CANDLE_REFRESH_SECONDS = 2.0
RECENT_TRADES = 18
OWN_FILLS_WINDOW = timedelta(hours=1)
OWN_FILLS_SCANNED = 200


class MarketsScreen(ConsoleScreen):
    """Mode 1: what the market is doing right now."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "next_timeframe", "Timeframe", id="markets.timeframe"),
        Binding("j", "cursor_down", "Down", show=False, id="markets.down"),
        Binding("k", "cursor_up", "Up", show=False, id="markets.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None
        self.timeframe = TIMEFRAMES[0]
        self._pending: dict[str, BookUpdated] = {}
        self._trades: deque[dict[str, Any]] = deque(maxlen=200)

    def body(self) -> ComposeResult:
        with Horizontal(id="markets"):
            yield DataTable(id="pairs", cursor_type="row", zebra_stripes=True)
            yield Ladder(depth=12, id="ladder")
            with Vertical(id="market-side"):
                yield Static(id="recent-trades")
                yield CandleChart(id="candles")

    def on_mount(self) -> None:
        table = self.query_one("#pairs", DataTable)
        table.add_column("pair", key="pair", width=10)
        table.add_column("last", key="last", width=11)
        table.add_column("24h", key="change", width=8)
        self.set_interval(REDRAW_SECONDS, self._redraw)
        self.set_interval(CANDLE_REFRESH_SECONDS, self._load_candles)
        if self.ctx is not None:
            self._fill_pairs()

    def on_booted(self, _: Booted) -> None:
        self._fill_pairs()

    def _fill_pairs(self) -> None:
        ctx = self.ctx
        table = self.query_one("#pairs", DataTable)
        if ctx is None or table.row_count:
            return
        for pair in ctx.pairs:
            table.add_row(pair, "-", "-", key=pair)
        self.selected = ctx.pairs[0] if ctx.pairs else None
        self._pending.update(self.console.last_books)
        self._load_candles()
        self._load_own_fills()

    def on_book_updated(self, message: BookUpdated) -> None:
        self._pending[message.pair] = message

    def on_market_trades(self, message: MarketTrades) -> None:
        self._trades.extend(message.trades)

    def on_copy_activity(self, _: CopyActivity) -> None:
        self._load_own_fills()

    @work(exclusive=True, group="own-fills", exit_on_error=False)
    async def _load_own_fills(self) -> None:
        """The user's fills on the selected pair in the last hour, marked on the ladder."""
        ctx, pair = self.ctx, self.selected
        if ctx is None or pair is None:
            return
        since = self.console.market_now() - OWN_FILLS_WINDOW
        trades = await ctx.follows.trades(OWN_FILLS_SCANNED, status="completed")
        self.query_one(Ladder).own_fills = frozenset(
            t.price
            for t in trades
            if t.pair == pair and t.price is not None and t.created_at >= since
        )

    @on(DataTable.RowHighlighted, "#pairs")
    def _pair_chosen(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value and event.row_key.value != self.selected:
            self.selected = event.row_key.value
            latest = self.console.last_books.get(self.selected)
            if latest is not None:
                self._pending[self.selected] = latest
            self._load_candles()
            self._load_own_fills()

    def _redraw(self) -> None:
        """Draw the newest book of every pair that changed since the last frame."""
        if not self._pending:
            self._draw_trades()
            return
        pending, self._pending = self._pending, {}
        table = self.query_one("#pairs", DataTable)
        for pair, update in pending.items():
            if pair not in table.rows:
                continue
            table.update_cell(pair, "last", update.last or "-")
            table.update_cell(pair, "change", _change(update.change_pct))
        chosen = pending.get(self.selected or "")
        if chosen is not None:
            self.query_one(Ladder).snapshot = chosen.snapshot
        self._draw_trades()

    def _draw_trades(self) -> None:
        text = Text(f"recent trades {self.selected or ''}\n", style="bold", no_wrap=True)
        shown = [t for t in reversed(self._trades) if t["pair"] == self.selected][:RECENT_TRADES]
        for trade in shown:
            colour = "green" if trade["side"] == "buy" else "red"
            text.append(f"{trade['at'][11:19]} ", style="dim")
            text.append(f"{trade['price']:>12} {trade['size']:>12}\n", style=colour)
        self.query_one("#recent-trades", Static).update(text)

    def show_pair(self, pair: str) -> None:
        """Select `pair` in the list (the command palette's "Market <pair>")."""
        table = self.query_one("#pairs", DataTable)
        if pair in table.rows:
            table.move_cursor(row=table.get_row_index(pair))

    def action_next_timeframe(self) -> None:
        index = TIMEFRAMES.index(self.timeframe)
        self.timeframe = TIMEFRAMES[(index + 1) % len(TIMEFRAMES)]
        self._load_candles()

    def action_cursor_down(self) -> None:
        self.query_one("#pairs", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#pairs", DataTable).action_cursor_up()

    @work(exclusive=True, group="candles", exit_on_error=False)
    async def _load_candles(self) -> None:
        ctx, pair = self.ctx, self.selected
        if ctx is None or pair is None:
            return
        now = self.console.clock()
        runner = ctx.runner
        if isinstance(runner, EngineRunner) and runner.exchange is not None:
            now = runner.exchange.now  # the simulator's clock
        chart = self.query_one(CandleChart)
        try:
            bars = await candle_bars(
                ctx.timeseries, ctx.services.catalog.pairs[pair].id, self.timeframe, now
            )
        except TimeSeriesError as exc:
            chart.title = f"{pair} {self.timeframe} candles unavailable: {exc}"
            return
        chart.title = f"{pair} {self.timeframe} candles"
        chart.bars = tuple(bars)


def _change(value: str | None) -> Text:
    if value is None:
        return Text("-")
    pct = Decimal(value)
    return Text(f"{pct:+.2f}%", style="green" if pct >= 0 else "red")

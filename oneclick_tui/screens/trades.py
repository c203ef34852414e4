"""Trades: the user's copy, stop-loss and manual trades, filtered, live, exportable to CSV.

Rows are keyed by trade id: a refresh (on `CopyActivity`, on entry, every few seconds)
adds new trades and rewrites only the cells that changed, e.g. a status moving from pending
to completed, so the cursor and scroll position survive the live feed.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from oneclick_tui.messages import Booted, CopyActivity
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.screens.refresh import Coalescer
from oneclick_tui.services.follows import TradeRow
from oneclick_tui.services.trades_view import (
    KIND_CHOICES,
    STATUS_CHOICES,
    TradeFilter,
    default_export_path,
    export_trades,
    filtered_trades,
    next_choice,
)
from oneclick_tui.widgets.cells import (
    fmt_price,
    fmt_qty,
    money,
    num,
    pnl,
    sort_keeping_cursor,
    sync_rows,
    when,
)

POLL_SECONDS = 3.0
"""Stop-losses are written without a copy event; pick them up this often."""
COLUMNS = (
    ("id", "#"),
    ("time", "time (UTC)"),
    ("kind", "kind"),
    ("pair", "pair"),
    ("side", "side"),
    ("amount", "amount"),
    ("price", "price"),
    ("value", "value"),
    ("fee", "fee"),
    ("pnl", "realized"),
    ("status", "status"),
    ("reason", "reason"),
    ("trader", "trader"),
    ("copy_of", "copy of"),
)
STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "skipped": "dim",
    "pending": "yellow",
    "submitted": "yellow",
}


class ExportPrompt(ModalScreen[Path | None]):
    """Ask where the CSV goes; Enter accepts the suggested path, Escape cancels."""

    DEFAULT_CSS = """
    ExportPrompt { align: center middle; }
    ExportPrompt > Vertical {
        width: 80%; max-width: 100; height: auto; padding: 1 2;
        border: round $accent; background: $surface;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="trades.export.cancel"),
    ]

    def __init__(self, suggested: Path) -> None:
        super().__init__()
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Export trades to CSV (Enter to write, Escape to cancel):")
            yield Input(str(self.suggested), id="export-path")

    @on(Input.Submitted, "#export-path")
    def _accept(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TradesScreen(ConsoleScreen):
    """Mode 5: every trade made for the user, newest first."""

    DEFAULT_CSS = """
    TradesScreen #trades-filter { height: 1; padding: 0 1; }
    TradesScreen #trades { height: 1fr; }
    TradesScreen #trades-search { display: none; dock: bottom; margin-bottom: 2; }
    TradesScreen #trades-search.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s",
            "cycle_status",
            "Status",
            id="trades.status",
            tooltip="Show only one status; press again for the next",
        ),
        Binding(
            "k",
            "cycle_kind",
            "Kind",
            id="trades.kind",
            tooltip="Show only copy, stop-loss or manual trades",
        ),
        Binding(
            "slash",
            "search",
            "Filter",
            key_display="/",
            id="trades.search",
            tooltip="Filter by pair or trader",
        ),
        Binding(
            "x",
            "export",
            "Export CSV",
            id="trades.export",
            tooltip="Write the filtered trades to a CSV file",
        ),
        Binding("escape", "close_search", "Close filter", show=False, id="trades.search.close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = TradeFilter()
        self.rows: list[TradeRow] = []
        self._loader = Coalescer(self, self._load, group="trades-load")

    def body(self) -> ComposeResult:
        with Vertical(id="trades-view"):
            yield Static(id="trades-filter")
            yield DataTable(id="trades", cursor_type="row", zebra_stripes=True)
            yield Input(
                placeholder="pair or trader, Enter to keep, Escape to close", id="trades-search"
            )

    def on_mount(self) -> None:
        table = self.query_one("#trades", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.set_interval(POLL_SECONDS, self._poll)
        self._show_filter()

    def on_booted(self, _: Booted) -> None:
        self.refresh_data()

    def on_copy_activity(self, _: CopyActivity) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        if self.ctx is not None:
            self._loader.request()

    def _poll(self) -> None:
        if self.is_current:
            self.refresh_data()

    async def _load(self) -> None:
        ctx, flt = self.ctx, self.filter
        if ctx is None:
            return
        rows = await filtered_trades(ctx.follows, flt)
        if flt != self.filter:
            return  # the filter changed while reading; a reload with the new one is queued
        self.rows = rows
        table = self.query_one("#trades", DataTable)
        if sync_rows(table, {str(row.id): _cells(row) for row in rows}):
            sort_keeping_cursor(table, "id")
        self._show_filter()

    def _show_filter(self) -> None:
        text = Text(f"{self.filter.describe()}   {len(self.rows)} trades", no_wrap=True)
        text.append("   s status · k kind · / filter · x export", style="dim")
        self.query_one("#trades-filter", Static).update(text)

    def _set_filter(self, flt: TradeFilter) -> None:
        self.filter = flt
        self._show_filter()
        self.refresh_data()

    def action_cycle_status(self) -> None:
        status = next_choice(STATUS_CHOICES, self.filter.status)
        self._set_filter(TradeFilter(status, self.filter.kind, self.filter.text))

    def action_cycle_kind(self) -> None:
        kind = next_choice(KIND_CHOICES, self.filter.kind)
        self._set_filter(TradeFilter(self.filter.status, kind, self.filter.text))

    def action_search(self) -> None:
        search = self.query_one("#trades-search", Input)
        search.add_class("-shown")
        search.focus()

    def action_close_search(self) -> None:
        search = self.query_one("#trades-search", Input)
        if not search.has_class("-shown"):
            return
        search.remove_class("-shown")
        self.query_one("#trades", DataTable).focus()

    @on(Input.Changed, "#trades-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._set_filter(TradeFilter(self.filter.status, self.filter.kind, event.value))

    @on(Input.Submitted, "#trades-search")
    def _search_done(self, _: Input.Submitted) -> None:
        self.action_close_search()

    def action_export(self) -> None:
        if self.ctx is None:
            self.notify("still starting; try again in a moment", severity="warning")
            return
        self.app.push_screen(
            ExportPrompt(default_export_path(self.console.clock())), self._export_to
        )

    def _export_to(self, path: Path | None) -> None:
        if path is not None:
            self._export(path)

    @work(exclusive=True, group="trades-export", exit_on_error=False)
    async def _export(self, path: Path) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        try:
            count = await export_trades(ctx.follows, self.filter, path)
        except OSError as exc:
            self.notify(f"could not write {path}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"exported {count} trades to {path}", title="CSV export")


def _cells(row: TradeRow) -> tuple[object, ...]:
    side_style = "green" if row.side == "buy" else "red"
    return (
        row.id,
        when(row.created_at),
        row.kind,
        row.pair,
        Text(row.side, style=side_style),
        num(fmt_qty(row.amount)),
        num(fmt_price(row.price)),
        money(row.total_value),
        money(row.fees, 4),
        pnl(row.realized_pnl),
        Text(row.status, style=STATUS_STYLE.get(row.status, "")),
        row.reason or "",
        row.trader or "",
        "" if row.copy_of is None else str(row.copy_of),
    )

"""Traders (mode 2): every lead trader with his key figures, a detail pane, and the follow keys.

The table is keyed by trader id; a reload or a filter adds, updates and removes rows by key,
so the cursor stays on the trader the user was looking at while the figures tick.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static
from textual.widgets.data_table import CellDoesNotExist

from oneclick_tui.screens.follow_actions import (
    FlowScreen,
    follow_flow,
    pause_flow,
    unfollow_flow,
)
from oneclick_tui.services.follows import TraderRow
from oneclick_tui.services.trader_view import LeadTradeRow, TraderViewService
from oneclick_tui.stores.errors import StoreError

RISK_ORDER = {"low": 0, "medium": 1, "high": 2, "extreme": 3}
RISK_STYLE = {"low": "green", "medium": "yellow", "high": "dark_orange", "extreme": "bold red"}
STATUS_STYLE = {"active": "bold green", "paused": "yellow"}
TRADER_COLUMNS = (
    ("name", "Trader"),
    ("risk", "Risk"),
    ("style", "Style"),
    ("trades", "Trades"),
    ("followers", "Followers"),
    ("following", "Following"),
)
LEAD_COLUMNS = (
    ("at", "Time (UTC)"),
    ("pair", "Pair"),
    ("side", "Side"),
    ("amount", "Amount"),
    ("price", "Price"),
    ("value", "Value"),
)


def money(value: Decimal | None, places: int = 2, *, sign: bool = False) -> str:
    """A Decimal for display, thousands separated; a dash when unknown. Never via float."""
    if value is None:
        return "—"
    return f"{value:{'+' if sign else ''},.{places}f}"


def compact(value: Decimal | None) -> str:
    """A quantity or price with as many places as its size needs (big amounts, tiny prices)."""
    if value is None:
        return "—"
    places = 2 if abs(value) >= 100 else 4 if abs(value) >= 1 else 6
    return money(value, places)


def status_text(status: str | None) -> Text:
    return Text(status or "—", style=STATUS_STYLE.get(status or "", "dim"))


def sync_rows(table: DataTable[Any], rows: dict[str, tuple[Any, ...]]) -> None:
    """Make the table hold exactly these rows, by key: remove, update changed cells, add.

    Never cleared and refilled, so the cursor and scroll position survive a live reload.
    """
    for gone in [k for k in table.rows if k.value not in rows]:
        table.remove_row(gone)
    columns = list(table.columns)
    for key, cells in rows.items():
        if key not in table.rows:
            table.add_row(*cells, key=key)
            continue
        for column, old, new in zip(columns, table.get_row(key), cells, strict=True):
            if old != new:
                table.update_cell(key, column, new)


def keep_cursor(table: DataTable[Any], key: str | None) -> None:
    """Put the cursor back on the row with this key after a sort or filter moved it."""
    if key is not None and key in table.rows:
        table.move_cursor(row=table.get_row_index(key), animate=False)


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the highlighted row, if any."""
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except CellDoesNotExist:  # the cursor is past the last row after a removal
        return None


def make_table(
    id: str, columns: tuple[tuple[str, str], ...], *, cursor_type: Any
) -> DataTable[Any]:
    """A table with its keyed columns, ready before the first rows arrive."""
    table: DataTable[Any] = DataTable(id=id, cursor_type=cursor_type, zebra_stripes=True)
    for key, label in columns:
        table.add_column(label, key=key)
    return table


# sort column -> (key function over the cell, descending first)
SORTS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "name": (lambda v: str(v).lower(), False),
    "risk": (lambda v: RISK_ORDER.get(str(v), 9), False),
    "trades": (lambda v: v, True),
    "followers": (lambda v: v, True),
    "following": (lambda v: (str(v) == "—", str(v)), False),
}


class TradersScreen(FlowScreen):
    """Browse, sort and filter lead traders; follow, pause and unfollow them by key."""

    CSS_PATH = Path(__file__).with_name("traders.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "f",
            "follow",
            "Follow",
            id="traders.follow",
            tooltip="Follow the highlighted trader (form, then confirm)",
        ),
        Binding(
            "u",
            "unfollow",
            "Unfollow",
            id="traders.unfollow",
            tooltip="Stop following the highlighted trader (confirm)",
        ),
        Binding(
            "p",
            "toggle_pause",
            "Pause/resume",
            id="traders.pause",
            tooltip="Pause or resume copying the highlighted trader",
        ),
        Binding("s", "cycle_sort", "Sort", id="traders.sort", tooltip="Cycle the sort column"),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            id="traders.filter",
            tooltip="Filter traders by name, style or risk as you type",
        ),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="traders.clear"),
        Binding("j", "cursor(1)", "Down", show=False, id="traders.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="traders.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, TraderRow] = {}
        self.filter_text = ""
        self.sort_column = "name"
        self.detail_for: str | None = None
        self.pending: str | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="traders-main"):
            with Vertical(id="traders-list"):
                yield Input(placeholder="/ filter by name, style, risk", id="traders-filter")
                yield make_table("traders-table", TRADER_COLUMNS, cursor_type="row")
                yield Label("", id="traders-hint")
            with Vertical(id="trader-detail"):
                yield Static("Loading traders…", id="trader-card")
                yield Label("Recent lead trades", classes="section-title")
                yield make_table("lead-trades", LEAD_COLUMNS, cursor_type="none")

    def on_mount(self) -> None:
        self.query_one("#traders-table", DataTable).focus()
        self._update_hint()

    # ------------------------------------------------------------------ loading
    def refresh_data(self) -> None:
        if self.ctx is not None:
            self._load()

    @work(exclusive=True, group="traders-load", exit_on_error=False)
    async def _load(self) -> None:
        """Reload the traders from the service and apply them by key."""
        ctx = self.ctx
        if ctx is None:
            return
        self.live.loading = True
        try:
            rows = await ctx.follows.traders()
        except StoreError as exc:
            self.notify(str(exc), title="Traders", severity="error")
            return
        finally:
            self.live.loading = False
        self.rows = {str(r.id): r for r in rows}
        self._apply()
        self._show_pending()
        self._load_detail(self.detail_for)

    def _apply(self) -> None:
        """Show the rows that pass the filter, sorted, keeping the cursor on its trader."""
        table = self.query_one("#traders-table", DataTable)
        selected = cursor_key(table)
        sync_rows(
            table,
            {k: _trader_cells(r) for k, r in self.rows.items() if _matches(r, self.filter_text)},
        )
        by, descending = SORTS[self.sort_column]
        table.sort(self.sort_column, key=by, reverse=descending)
        keep_cursor(table, selected)
        self._show_card(cursor_key(table))

    # ------------------------------------------------------------------ detail pane
    @on(DataTable.RowHighlighted, "#traders-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key != self.detail_for:
            self._show_card(key)

    def _show_card(self, key: str | None) -> None:
        row = self.rows.get(key or "")
        card = self.query_one("#trader-card", Static)
        if row is None:
            card.update("No trader matches the filter." if self.rows else "Loading traders…")
            self.detail_for = None
            self.query_one("#lead-trades", DataTable).clear()
            return
        card.update(_card(row))
        if key != self.detail_for:
            self.query_one("#lead-trades", DataTable).clear()  # another trader, not a refresh
            self.detail_for = key
            self._load_detail(key)

    @work(exclusive=True, group="traders-detail", exit_on_error=False)
    async def _load_detail(self, key: str | None) -> None:
        """The highlighted trader's recent lead trades, applied by trade id."""
        ctx = self.ctx
        if ctx is None or key is None:
            return
        try:
            trades = await TraderViewService(ctx.services).lead_trades(int(key))
        except StoreError as exc:
            self.notify(str(exc), title="Lead trades", severity="error")
            return
        if key != self.detail_for:
            return
        table = self.query_one("#lead-trades", DataTable)
        sync_rows(table, {str(t.id): _lead_cells(t) for t in trades})
        table.sort("at", key=str, reverse=True)

    # ------------------------------------------------------------------ keys
    def selected(self) -> TraderRow | None:
        """The highlighted trader; a hint when there is none."""
        row = self.rows.get(cursor_key(self.query_one("#traders-table", DataTable)) or "")
        if row is None:
            self.notify("no trader highlighted", severity="warning")
        return row

    def action_follow(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.following is not None:
            self.notify(
                f"you already follow {row.name} ({row.following}); edit the terms on Following (3)",
                severity="warning",
            )
            return
        self.run_flow(follow_flow(self.app, row.name))

    def action_unfollow(self) -> None:
        row = self.selected()
        if row is not None and row.following is None:
            self.notify(f"you do not follow {row.name}", severity="warning")
        elif row is not None:
            self.run_flow(unfollow_flow(self.app, row.name))

    def action_toggle_pause(self) -> None:
        row = self.selected()
        if row is not None:
            self.run_flow(pause_flow(self.app, row.name, row.following))

    def action_cycle_sort(self) -> None:
        names = list(SORTS)
        self.sort_column = names[(names.index(self.sort_column) + 1) % len(names)]
        self._update_hint()
        self._apply()

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#traders-table", DataTable)
        table.action_cursor_down() if step > 0 else table.action_cursor_up()

    def action_filter(self) -> None:
        self.query_one("#traders-filter", Input).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#traders-filter", Input)
        box.value = ""
        self.query_one("#traders-table", DataTable).focus()

    @on(Input.Changed, "#traders-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip().lower()
        self._apply()

    @on(Input.Submitted, "#traders-filter")
    def _filter_done(self) -> None:
        self.query_one("#traders-table", DataTable).focus()

    def _update_hint(self) -> None:
        self.query_one("#traders-hint", Label).update(
            f"sorted by {self.sort_column} (s)  ·  / filter  ·  f follow  ·  p pause/resume  ·"
            "  u unfollow"
        )

    # ------------------------------------------------------------------ palette
    def show_trader(self, name: str) -> None:
        """Highlight a trader by name (from the palette); waits for the rows if needed."""
        self.pending = name.lower()
        self._show_pending()

    def _show_pending(self) -> None:
        if self.pending is None or not self.rows:
            return
        key = next((k for k, r in self.rows.items() if r.name.lower() == self.pending), None)
        self.pending = None
        table = self.query_one("#traders-table", DataTable)
        if key is not None and key not in table.rows:
            self.action_clear_filter()
            self.filter_text = ""
            self._apply()
        keep_cursor(table, key)
        table.focus()


def _matches(row: TraderRow, text: str) -> bool:
    hay = (row.name, row.style or "", row.risk_category, row.address)
    return not text or any(text in part.lower() for part in hay)


def _trader_cells(row: TraderRow) -> tuple[Any, ...]:
    return (
        row.name,
        Text(row.risk_category, style=RISK_STYLE.get(row.risk_category, "")),
        row.style or "—",
        row.trades,
        row.followers,
        status_text(row.following),
    )


def _card(row: TraderRow) -> Text:
    text = Text()
    text.append(f"{row.name}\n", style="bold")
    text.append(f"{row.address}\n\n", style="dim")
    for label, value, style in (
        ("Risk", row.risk_category, RISK_STYLE.get(row.risk_category, "")),
        ("Style", row.style or "—", ""),
        ("Lead trades", str(row.trades), ""),
        ("Followers", str(row.followers), ""),
        ("You", row.following or "not following", STATUS_STYLE.get(row.following or "", "dim")),
    ):
        text.append(f"{label:<12}", style="dim")
        text.append(f"{value}\n", style=style)
    return text


def _lead_cells(trade: LeadTradeRow) -> tuple[Any, ...]:
    at = trade.executed_at.strftime("%m-%d %H:%M:%S") if trade.executed_at else "—"
    side = Text(trade.side, style="green" if trade.side == "buy" else "red")
    return (
        at,
        trade.pair,
        side,
        compact(trade.amount),
        compact(trade.price),
        money(trade.total_value),
    )

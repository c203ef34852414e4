"""Following (mode 3): the user's follows with their terms and what copying each one earned.

Rows are keyed by trader id and reloaded at most once a second while copies happen, so a busy
simulator never floods the table; edits keep history (the old follow ends, a new one starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label

from oneclick_tui.screens.follow_actions import FlowScreen, edit_flow, pause_flow, unfollow_flow
from oneclick_tui.screens.traders import (
    cursor_key,
    keep_cursor,
    make_table,
    money,
    status_text,
    sync_rows,
)
from oneclick_tui.services.follows import FollowRow
from oneclick_tui.stores.errors import StoreError
from oneclick_tui.widgets.modals import SIDE_LABELS

SIZING_SHORT = {"copy_pct": "% of lead", "equity_ratio": "equity ratio"}
FOLLOW_COLUMNS = (
    ("trader", "Trader"), ("status", "Status"), ("pct", "Copy %"), ("sizing", "Sizing"),
    ("side", "Side"), ("auto", "Auto-copy"), ("copies", "Copies"), ("skips", "Skips"),
    ("pnl", "Realized PnL"), ("since", "Since (UTC)"),
)  # fmt: skip


class FollowingScreen(FlowScreen):
    """The follows of the local user; edit, pause/resume and unfollow by key."""

    CSS_PATH = Path(__file__).with_name("following.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "e",
            "edit",
            "Edit terms",
            id="following.edit",
            tooltip="Change copy %, sizing, side or auto-copy of the highlighted follow",
        ),
        Binding(
            "p",
            "toggle_pause",
            "Pause/resume",
            id="following.pause",
            tooltip="Pause or resume copying the highlighted trader",
        ),
        Binding(
            "u",
            "unfollow",
            "Unfollow",
            id="following.unfollow",
            tooltip="Stop following the highlighted trader (confirm)",
        ),
        Binding("j", "cursor(1)", "Down", show=False, id="following.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="following.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, FollowRow] = {}

    def body(self) -> ComposeResult:
        yield make_table("following-table", FOLLOW_COLUMNS, cursor_type="row")
        yield Label("Loading follows…", id="following-empty")

    def on_mount(self) -> None:
        self.query_one("#following-table", DataTable).focus()

    def refresh_data(self) -> None:
        if self.ctx is not None:
            self._load()

    @work(exclusive=True, group="following-load", exit_on_error=False)
    async def _load(self) -> None:
        """Reload the follows and apply them by key; newest follow first."""
        ctx = self.ctx
        if ctx is None:
            return
        self.live.loading = True
        try:
            follows = await ctx.follows.follows()
        except StoreError as exc:
            self.notify(str(exc), title="Following", severity="error")
            return
        finally:
            self.live.loading = False
        self.rows = {str(f.trader_id): f for f in follows}
        self._apply()

    def _apply(self) -> None:
        table = self.query_one("#following-table", DataTable)
        selected = cursor_key(table)
        sync_rows(table, {k: _follow_cells(r) for k, r in self.rows.items()})
        table.sort("since", key=str, reverse=True)
        keep_cursor(table, selected)
        empty = self.query_one("#following-empty", Label)
        empty.display = not self.rows
        empty.update("You follow nobody yet: press 2 for Traders, then f to follow one.")

    def selected(self) -> FollowRow | None:
        """The highlighted follow; a hint when there is none."""
        row = self.rows.get(cursor_key(self.query_one("#following-table", DataTable)) or "")
        if row is None:
            self.notify("no follow highlighted", severity="warning")
        return row

    def action_edit(self) -> None:
        if (row := self.selected()) is not None:
            self.run_flow(edit_flow(self.app, row))

    def action_toggle_pause(self) -> None:
        if (row := self.selected()) is not None:
            self.run_flow(pause_flow(self.app, row.trader, row.status))

    def action_unfollow(self) -> None:
        if (row := self.selected()) is not None:
            self.run_flow(unfollow_flow(self.app, row.trader))

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#following-table", DataTable)
        table.action_cursor_down() if step > 0 else table.action_cursor_up()


def _follow_cells(row: FollowRow) -> tuple[Any, ...]:
    sizing = (
        f"fixed {money(row.fixed_quote_amount)}"
        if row.sizing_mode == "fixed_quote"
        else SIZING_SHORT.get(row.sizing_mode, row.sizing_mode)
    )
    pnl_style = "green" if row.realized_pnl > 0 else "red" if row.realized_pnl < 0 else ""
    return (
        row.trader,
        status_text(row.status),
        f"{row.copy_pct.normalize():f}%",
        sizing,
        SIDE_LABELS.get(row.copy_side, row.copy_side),
        Text("on", style="green") if row.auto_copy else Text("off", style="dim"),
        row.copies,
        row.skips,
        Text(money(row.realized_pnl, sign=True), style=pnl_style),
        row.started_at.strftime("%Y-%m-%d %H:%M:%S"),
    )

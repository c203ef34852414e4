"""Activity: the audit log, live and newest first, with a free-text filter.

One worker polls while the screen is shown: it reads the rows after the newest id it has,
applies them, then sleeps a second, so polls never overlap, and it is cancelled when the
screen is hidden (nobody is looking, so nothing is read).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from oneclick_tui.messages import Booted
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.services.activity_view import ActivityRow, ActivityView
from oneclick_tui.widgets.cells import sort_keeping_cursor, sync_rows, when

POLL_SECONDS = 1.0
PAGE = 300
KEEP_ROWS = 1000
"""Rows kept in memory (newest); the table shows at most SHOW_ROWS of those that match."""
SHOW_ROWS = 500
COLUMNS = (
    ("id", "#"),
    ("time", "time (UTC)"),
    ("actor", "actor"),
    ("action", "action"),
    ("entity", "entity"),
    ("change", "before → after"),
)


class ActivityScreen(ConsoleScreen):
    """Mode 9: who did what, as it happens."""

    DEFAULT_CSS = """
    ActivityScreen #activity-info { height: 1; padding: 0 1; }
    ActivityScreen #activity { height: 1fr; }
    ActivityScreen #activity-search { display: none; dock: bottom; margin-bottom: 2; }
    ActivityScreen #activity-search.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "search",
            "Filter",
            key_display="/",
            id="activity.search",
            tooltip="Show only entries containing some text",
        ),
        Binding("escape", "close_search", "Close filter", show=False, id="activity.search.close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[int, ActivityRow] = {}
        self.text = ""
        self._view: ActivityView | None = None

    def body(self) -> ComposeResult:
        with Vertical(id="activity-view"):
            yield Static(id="activity-info")
            yield DataTable(id="activity", cursor_type="row", zebra_stripes=True)
            yield Input(placeholder="text in actor, action, entity or change", id="activity-search")

    def on_mount(self) -> None:
        table = self.query_one("#activity", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self._show_info()

    def on_booted(self, _: Booted) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        """Start polling (once; the worker keeps going while the screen is shown)."""
        polling = any(w.group == "activity-poll" and not w.is_finished for w in self.workers)
        if self.ctx is not None and self.is_current and not polling:
            self._poll()

    def on_screen_suspend(self) -> None:
        self.workers.cancel_group(self, "activity-poll")

    @work(exclusive=True, group="activity-poll", exit_on_error=False)
    async def _poll(self) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        if self._view is None:
            self._view = ActivityView(ctx.services)
        while True:
            newest = max(self.entries, default=None)
            rows = await self._view.recent(PAGE, after_id=newest)
            if rows or newest is None:
                self._apply(rows)
            if len(rows) < PAGE or newest is None:
                await asyncio.sleep(POLL_SECONDS)  # caught up; a full page means read on

    def _apply(self, rows: list[ActivityRow]) -> None:
        if not self.is_attached:
            return  # the console is closing
        for row in rows:
            self.entries[row.id] = row
        for old in sorted(self.entries)[:-KEEP_ROWS]:
            del self.entries[old]
        self._draw()

    def _draw(self) -> None:
        shown = [
            r for r in sorted(self.entries.values(), key=lambda r: -r.id) if r.matches(self.text)
        ][:SHOW_ROWS]
        table = self.query_one("#activity", DataTable)
        if sync_rows(table, {str(r.id): _cells(r) for r in shown}):
            sort_keeping_cursor(table, "id")
        self._show_info(len(shown))

    def _show_info(self, shown: int = 0) -> None:
        text = Text(f"{shown} entries", no_wrap=True)
        if self.text.strip():
            text.append(f" matching {self.text.strip()!r}")
        text.append("   newest first · live · / filter", style="dim")
        self.query_one("#activity-info", Static).update(text)

    def action_search(self) -> None:
        search = self.query_one("#activity-search", Input)
        search.add_class("-shown")
        search.focus()

    def action_close_search(self) -> None:
        search = self.query_one("#activity-search", Input)
        if search.has_class("-shown"):
            search.remove_class("-shown")
            self.query_one("#activity", DataTable).focus()

    @on(Input.Changed, "#activity-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.text = event.value
        self._draw()

    @on(Input.Submitted, "#activity-search")
    def _search_done(self, _: Input.Submitted) -> None:
        self.action_close_search()


def _cells(row: ActivityRow) -> tuple[object, ...]:
    actor_style = "cyan" if row.actor.startswith("user:") else "dim"
    return (
        row.id,
        when(row.occurred_at),
        Text(row.actor, style=actor_style),
        row.action,
        row.entity,
        row.summary,
    )

"""Portfolio: holdings valued at the live mid, totals, allocation, risk and diversification.

Holdings are read from the store when copies change them (`CopyActivity`), on entry and
every few seconds; prices come from the books the app already keeps (`app.last_books`), so
a book update only marks the view stale and a 2 Hz timer revalues it without a query.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from oneclick_tui.domain.metrics import fmt_metric
from oneclick_tui.messages import BookUpdated, Booted, CopyActivity
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.screens.refresh import Coalescer
from oneclick_tui.services.portfolio_view import (
    Holding,
    PortfolioSnapshot,
    PortfolioView,
    ValuedHolding,
    value_portfolio,
)
from oneclick_tui.widgets.cells import (
    fmt_decimal,
    fmt_price,
    fmt_qty,
    money,
    num,
    pnl,
    sort_keeping_cursor,
    sync_rows,
)

REVALUE_SECONDS = 0.5
"""At most 2 revaluations a second, however fast books arrive."""
RELOAD_SECONDS = 10.0
"""Stop-losses and marks change holdings without a copy event; catch them this often."""
BAR_WIDTH = 10
COLUMNS = (
    ("asset", "asset"),
    ("pair", "priced by"),
    ("qty", "quantity"),
    ("avg", "avg cost"),
    ("price", "price"),
    ("value", "value"),
    ("upnl", "unrealized"),
    ("rpnl", "realized"),
    ("alloc", "allocation"),
)


class PortfolioScreen(ConsoleScreen):
    """Mode 4: what the user holds and what it is worth now."""

    DEFAULT_CSS = """
    PortfolioScreen #portfolio-totals { height: auto; padding: 0 1; margin-bottom: 1; }
    PortfolioScreen #positions { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "r",
            "reload",
            "Reload",
            id="portfolio.reload",
            tooltip="Read the holdings from the store again",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: PortfolioSnapshot | None = None
        self._holdings: list[Holding] | None = None
        self._history: list[Decimal] = []
        self._stale = False
        self._view: PortfolioView | None = None
        self._loader = Coalescer(self, self._load, group="portfolio-load", min_gap=0.5)

    def body(self) -> ComposeResult:
        with Vertical(id="portfolio"):
            yield Static("loading…", id="portfolio-totals")
            yield DataTable(id="positions", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#positions", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.set_interval(REVALUE_SECONDS, self._revalue_if_stale)
        self.set_interval(RELOAD_SECONDS, self._reload_if_shown)

    def on_booted(self, _: Booted) -> None:
        self.refresh_data()

    def on_copy_activity(self, _: CopyActivity) -> None:
        self.refresh_data()

    def on_book_updated(self, message: BookUpdated) -> None:
        held = self._holdings or []
        if any(h.pair == message.pair for h in held):
            self._stale = True

    def action_reload(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        if self.ctx is not None:
            self._loader.request()

    def _reload_if_shown(self) -> None:
        if self.is_current:
            self.refresh_data()

    def _revalue_if_stale(self) -> None:
        if self._stale and self._holdings is not None:
            self._stale = False
            self._draw()

    async def _load(self) -> None:
        """Read holdings and the equity history, then draw."""
        ctx = self.ctx
        if ctx is None:
            return
        if self._view is None:
            self._view = PortfolioView(ctx.services)
        holdings = await self._view.holdings()
        self._history = await self._view.equity_history()
        self._holdings = holdings
        self._draw()

    def live_mids(self) -> dict[str, Decimal]:
        """The newest mid of every held pair with a book (only those ladders are built)."""
        books = self.console.last_books
        held = {h.pair for h in self._holdings or [] if h.pair in books}
        return {p: m for p in held if (m := books[p].snapshot.mid) is not None}

    def _draw(self) -> None:
        snap = value_portfolio(self._holdings or [], self.live_mids(), self._history)
        self.snapshot = snap
        self.query_one("#portfolio-totals", Static).update(_totals(snap))
        table = self.query_one("#positions", DataTable)
        if sync_rows(table, {row.asset: _cells(row) for row in snap.rows}):
            sort_keeping_cursor(table, "asset", reverse=False)


def _cells(row: ValuedHolding) -> tuple[object, ...]:
    style = "dim" if row.quantity == 0 else ""
    price = num(fmt_price(row.price) + ("" if row.live or row.price is None else "*"))
    return (
        Text(row.asset, style=style or "bold"),
        row.pair or ("cash" if row.is_cash else "-"),
        num(fmt_qty(row.quantity)),
        num(fmt_price(row.average_cost)),
        price,
        money(row.value),
        pnl(row.unrealized_pnl),
        pnl(row.realized_pnl),
        _bar(row.weight),
    )


def _bar(weight: Decimal | None) -> Text:
    """A small allocation bar and the share in percent."""
    if weight is None:
        return Text("-", style="dim")
    filled = int((weight * BAR_WIDTH).to_integral_value())
    bar = Text("█" * filled, style="cyan")
    bar.append("░" * (BAR_WIDTH - filled), style="dim")
    bar.append(f" {fmt_decimal(weight * 100, 1):>5}%")
    return bar


def _totals(snap: PortfolioSnapshot) -> Text:
    text = Text()
    for label, value in (
        ("equity", money(snap.equity)),
        ("cash", money(snap.cash)),
        ("unrealized", pnl(snap.unrealized_pnl)),
        ("realized", pnl(snap.realized_pnl)),
    ):
        text.append(f"{label} ", style="dim")
        text.append(value)
        text.append("   ")
    text.append("risk ", style="dim")
    text.append(fmt_metric(snap.risk_score, digits=0) + "/100   ")
    text.append("diversification ", style="dim")
    text.append(fmt_metric(snap.diversification, digits=2))
    if snap.unpriced:
        text.append(f"\nunpriced (not in equity): {', '.join(snap.unpriced)}", style="yellow")
    if any(not row.live and row.price is not None for row in snap.rows):
        text.append("\n* = last engine mark, no live book yet", style="dim")
    return text

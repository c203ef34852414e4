"""Order-book ladder: asks over bids, size and cumulative depth bars, spread and mid.

It renders one `LadderSnapshot` as a single Rich `Text`, which is far cheaper than a table
of widgets; the app decides how often a new snapshot is assigned (the feed never does).
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from oneclick_tui.services.snapshots import LadderSnapshot, Level

BAR = "█"
ROW_TEXT_WIDTH = 2 + 13 + 12 + 12
"""Characters before the depth bar: marker, price, size and cumulative total."""


class Ladder(Widget):
    """Draws `depth` levels each side; `snapshot` is replaced wholesale, never mutated."""

    DEFAULT_CSS = """
    Ladder { height: 1fr; min-width: 44; padding: 0 1; }
    """

    snapshot: reactive[LadderSnapshot | None] = reactive(None, layout=False)
    own_fills: reactive[frozenset[Decimal]] = reactive(frozenset, layout=False)
    """Prices of the user's recent fills on this pair; the nearest level gets a ◆."""

    def __init__(self, depth: int = 15, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.depth = depth

    def render(self) -> Text:
        snap = self.snapshot
        if snap is None:
            return Text("waiting for the book…", style="dim")
        asks = snap.asks[: self.depth]
        bids = snap.bids[: self.depth]
        bar_width = max(1, self.content_size.width - ROW_TEXT_WIDTH - 1)
        marked = nearest_levels(self.own_fills, [p for p, _ in asks + bids])
        biggest = max(_cumulative(asks)[-1:] + _cumulative(bids)[-1:], default=Decimal(1))
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"{snap.pair}\n", style="bold")
        text.append(f"  {'price':>12} {'size':>11} {'total':>11}\n", style="dim")
        for (price, size), total in reversed(list(zip(asks, _cumulative(asks), strict=True))):
            _row(text, price, size, total, biggest, bar_width, "red", price in marked)
        text.append(_spread_line(snap), style="bold yellow")
        for (price, size), total in zip(bids, _cumulative(bids), strict=True):
            _row(text, price, size, total, biggest, bar_width, "green", price in marked)
        return text


def nearest_levels(fills: frozenset[Decimal], prices: list[Decimal]) -> set[Decimal]:
    """The displayed level closest to each fill (fills are average prices, off the tick),
    when it lies within 1% of it; fills far from the visible book mark nothing."""
    marked: set[Decimal] = set()
    for fill in fills:
        if not prices:
            break
        closest = min(prices, key=lambda p: abs(p - fill))
        if abs(closest - fill) <= fill / 100:
            marked.add(closest)
    return marked


def _cumulative(levels: tuple[Level, ...]) -> list[Decimal]:
    out: list[Decimal] = []
    running = Decimal(0)
    for _, size in levels:
        running += size
        out.append(running)
    return out


def _row(
    text: Text,
    price: Decimal,
    size: Decimal,
    total: Decimal,
    biggest: Decimal,
    width: int,
    colour: str,
    own: bool,
) -> None:
    marker = "◆" if own else " "
    bar = BAR * max(1, int(width * total / biggest)) if biggest > 0 else ""
    bar = bar[:width]
    text.append(f"{marker} {price:>12} ", style=f"bold {colour}")
    text.append(f"{_fmt(size):>11} {_fmt(total):>11} ")
    text.append(f"{bar}\n", style=f"{colour} dim")


def _spread_line(snap: LadderSnapshot) -> str:
    if snap.mid is None or snap.spread is None:
        return "  — one side empty —\n"
    bps = snap.spread / snap.mid * 10_000
    return f"  mid {snap.mid.normalize():f}   spread {snap.spread.normalize():f} ({bps:.1f} bps)\n"


def _fmt(value: Decimal) -> str:
    return f"{value:,.4f}" if value < 1000 else f"{value:,.2f}"

"""A candle chart in text: one column per candle, wicks and bodies, volume underneath."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from oneclick_tui.services.snapshots import Bar

VOLUME_BLOCKS = " ▁▂▃▄▅▆▇█"


class CandleChart(Widget):
    """Draws the newest candles that fit the width; `bars` is replaced wholesale."""

    DEFAULT_CSS = """
    CandleChart { height: 1fr; min-height: 8; }
    """

    bars: reactive[tuple[Bar, ...]] = reactive(tuple)
    title: reactive[str] = reactive("")

    def render(self) -> Text:
        width = max(1, self.size.width - 12)
        height = max(3, self.size.height - 3)
        bars = self.bars[-width:]
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"{self.title}\n", style="bold")
        if not bars:
            text.append("no candles yet", style="dim")
            return text
        top = max(b.high for b in bars)
        bottom = min(b.low for b in bars)
        for row in range(height):
            level = _level(top, bottom, height, row)
            label = f"{level:>11.4f} " if row in (0, height - 1) else " " * 12
            text.append(label, style="dim")
            for bar in bars:
                glyph, style = _cell(bar, top, bottom, height, row)
                text.append(glyph, style=style)
            text.append("\n")
        text.append(" " * 12 + _volume_row(bars) + "\n", style="blue")
        return text


def _level(top: Decimal, bottom: Decimal, height: int, row: int) -> Decimal:
    span = top - bottom
    return top - span * row / max(1, height - 1) if span else top


def _row_of(price: Decimal, top: Decimal, bottom: Decimal, height: int) -> int:
    span = top - bottom
    if not span:
        return height // 2
    return int((top - price) / span * (height - 1))


def _cell(bar: Bar, top: Decimal, bottom: Decimal, height: int, row: int) -> tuple[str, str]:
    up = bar.close >= bar.open
    colour = "green" if up else "red"
    body_top = _row_of(max(bar.open, bar.close), top, bottom, height)
    body_bottom = _row_of(min(bar.open, bar.close), top, bottom, height)
    if body_top <= row <= body_bottom:
        return "█", colour
    if _row_of(bar.high, top, bottom, height) <= row <= _row_of(bar.low, top, bottom, height):
        return "│", colour
    return " ", ""


def _volume_row(bars: Sequence[Bar]) -> str:
    peak = max((b.volume for b in bars), default=Decimal(0))
    if peak <= 0:
        return ""
    steps = len(VOLUME_BLOCKS) - 1
    return "".join(VOLUME_BLOCKS[int(b.volume / peak * steps)] for b in bars)

"""Table cells for money, and keeping a DataTable in step with rows keyed by id.

Live screens refresh often; clearing and refilling a table loses the cursor and flickers, so
`sync_rows` adds, updates and removes rows by key and touches only the cells that changed.
Money arrives as Decimal and is formatted here, never through float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

DASH = Text("-", style="dim", justify="right")


def fmt_decimal(value: Decimal | None, places: int) -> str:
    """`value` rounded half-even to `places`, with thousands separators; "-" for None."""
    if value is None:
        return "-"
    step = Decimal(1).scaleb(-places)
    return f"{value.quantize(step, rounding=ROUND_HALF_EVEN):,.{places}f}"


def fmt_qty(value: Decimal | None, max_places: int = 8) -> str:
    """A quantity with at most `max_places` decimals and no trailing zeros."""
    if value is None:
        return "-"
    text = fmt_decimal(value, max_places)
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_price(value: Decimal | None) -> str:
    """Enough decimals to see a move: 2 above 100, 4 above 1, 6 below."""
    if value is None:
        return "-"
    places = 2 if abs(value) >= 100 else 4 if abs(value) >= 1 else 6
    return fmt_decimal(value, places)


def num(text: str) -> Text:
    """A right-aligned number cell."""
    return Text(text, justify="right")


def money(value: Decimal | None, places: int = 2) -> Text:
    return DASH if value is None else num(fmt_decimal(value, places))


def pnl(value: Decimal | None, places: int = 2) -> Text:
    """Signed and coloured: green for a gain, red for a loss."""
    if value is None:
        return DASH
    text = fmt_decimal(value, places)
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(("+" if value > 0 else "") + text, style=style, justify="right")


def when(value: datetime) -> str:
    """A UTC timestamp short enough for a column."""
    return value.strftime("%m-%d %H:%M:%S")


def sync_rows(table: DataTable[Any], rows: Mapping[str, Sequence[Any]]) -> bool:
    """Make `table` show exactly `rows` (key -> cells in column order); True if rows came or went.

    Only changed cells are rewritten; the cursor stays on the same row key where it can.
    """
    columns = list(table.columns)
    stale = [row_key for row_key in table.rows if row_key.value not in rows]
    for row_key in stale:
        table.remove_row(row_key)
    added = False
    for key, cells in rows.items():
        try:
            current = table.get_row(key)
        except (RowDoesNotExist, CellDoesNotExist):
            table.add_row(*cells, key=key)
            added = True
            continue
        for column, old, new in zip(columns, current, cells, strict=False):
            if old != new:
                table.update_cell(key, column, new)
    return added or bool(stale)


def sort_keeping_cursor(table: DataTable[Any], column: str, *, reverse: bool = True) -> None:
    """Sort by `column` and keep the cursor on the row it was on."""
    focused = None
    if table.row_count and table.cursor_row < table.row_count:
        focused = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    table.sort(column, reverse=reverse)
    if focused is not None and focused in table.rows:
        table.move_cursor(row=table.get_row_index(focused), animate=False, scroll=False)

"""The trade history as the console filters and exports it.

Filtering is pure so the screen can re-apply it on every refresh without a query; the
export writes exactly what `FollowService.trades` returned, Decimals in full (no rounding,
no exponent), so a spreadsheet sum equals the database sum.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from oneclick_tui.config import user_data_dir
from oneclick_tui.domain.entities import TRADE_STATUSES
from oneclick_tui.services.follows import FollowService, TradeRow

STATUS_CHOICES: tuple[str | None, ...] = (None, *TRADE_STATUSES)
KIND_CHOICES: tuple[str | None, ...] = (None, "copy", "stop_loss", "manual")
VIEW_LIMIT = 500
"""Rows the screen keeps; the export reads up to EXPORT_LIMIT."""
EXPORT_LIMIT = 1_000_000
CSV_COLUMNS = (
    "id",
    "created_at",
    "kind",
    "pair",
    "side",
    "amount",
    "price",
    "total_value",
    "fees",
    "realized_pnl",
    "status",
    "reason",
    "trader",
    "copy_of",
    "tx_hash",
)


@dataclass(frozen=True)
class TradeFilter:
    """Status and kind (None = any) and free text matched against pair and trader."""

    status: str | None = None
    kind: str | None = None
    text: str = ""

    def matches(self, row: TradeRow) -> bool:
        if self.status is not None and row.status != self.status:
            return False
        if self.kind is not None and row.kind != self.kind:
            return False
        needle = self.text.strip().lower()
        return not needle or needle in f"{row.pair} {row.trader or ''}".lower()

    def describe(self) -> str:
        parts = [f"status={self.status or 'any'}", f"kind={self.kind or 'any'}"]
        if self.text.strip():
            parts.append(f"text={self.text.strip()!r}")
        return "  ".join(parts)


def next_choice(choices: tuple[str | None, ...], current: str | None) -> str | None:
    """The choice after `current`, wrapping around."""
    return choices[(choices.index(current) + 1) % len(choices)]


async def filtered_trades(
    follows: FollowService, flt: TradeFilter, limit: int = VIEW_LIMIT
) -> list[TradeRow]:
    """The newest trades that pass the filter (status is filtered in the query)."""
    rows = await follows.trades(limit=limit, status=flt.status)
    return [row for row in rows if flt.matches(row)]


def exact(value: object) -> str:
    """A CSV field: Decimals in plain notation and in full, datetimes ISO 8601, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def csv_record(row: TradeRow) -> list[str]:
    return [
        exact(v)
        for v in (
            row.id,
            row.created_at,
            row.kind,
            row.pair,
            row.side,
            row.amount,
            row.price,
            row.total_value,
            row.fees,
            row.realized_pnl,
            row.status,
            row.reason,
            row.trader,
            row.copy_of,
            row.tx_hash,
        )
    ]


def default_export_path(now: datetime) -> Path:
    """Where an export goes unless the user types another path."""
    return user_data_dir() / "exports" / f"trades-{now:%Y%m%dT%H%M%SZ}.csv"


def _write_csv(rows: list[list[str]], path: Path) -> None:
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)


async def export_csv(rows: Iterable[TradeRow], path: Path) -> int:
    """Write the rows to `path` (in a thread, so the caller's loop never waits on disk)."""
    records = [csv_record(row) for row in rows]
    await asyncio.to_thread(_write_csv, records, path)
    return len(records)


async def export_trades(follows: FollowService, flt: TradeFilter, path: Path) -> int:
    """Export every trade that passes the filter, newest first; returns how many."""
    return await export_csv(await filtered_trades(follows, flt, EXPORT_LIMIT), path)

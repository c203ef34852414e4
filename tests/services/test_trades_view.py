"""Trade filters (pure) and the CSV export: exact Decimals, every field."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

from oneclick_tui.services.follows import TradeRow
from oneclick_tui.services.trades_view import (
    CSV_COLUMNS,
    STATUS_CHOICES,
    TradeFilter,
    default_export_path,
    exact,
    export_csv,
    next_choice,
)

T = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)


def row(
    id: int,
    status: str = "completed",
    kind: str = "copy",
    pair: str = "APT/USDC",
    trader: str | None = "NeonFox",
) -> TradeRow:
    return TradeRow(
        id,
        T,
        kind,
        pair,
        "buy",
        D("1.230000000000000000"),
        D("8.2888"),
        D("10.195224"),
        D("0.005097612"),
        None,
        status,
        None,
        trader,
        id - 1,
        None,
    )


def test_filter_by_status_kind_and_text() -> None:
    rows = [
        row(1),
        row(2, "skipped"),
        row(3, kind="stop_loss", trader=None),
        row(4, pair="WETH/USDC", trader="ZenWolf"),
    ]
    assert [r.id for r in rows if TradeFilter("completed").matches(r)] == [1, 3, 4]
    assert [r.id for r in rows if TradeFilter(kind="stop_loss").matches(r)] == [3]
    assert [r.id for r in rows if TradeFilter(text="zen").matches(r)] == [4]
    assert [r.id for r in rows if TradeFilter(text=" weth ").matches(r)] == [4]
    assert next_choice(STATUS_CHOICES, None) == "pending"
    assert next_choice(STATUS_CHOICES, STATUS_CHOICES[-1]) is None


def test_exact_keeps_every_digit_without_exponents() -> None:
    assert exact(D("0E-18")) == "0"
    assert exact(D("1.230000000000000000")) == "1.23"
    assert exact(D("1E+3")) == "1000"
    assert exact(D("0.000000000000000001")) == "0.000000000000000001"
    assert exact(None) == ""
    assert exact(T) == "2026-11-24T12:30:00+00:00"


async def test_export_round_trips(tmp_path: Path) -> None:
    rows = [row(5), row(6, "skipped")]
    target = tmp_path / "deep" / "t.csv"
    assert await export_csv(rows, target) == 2
    with target.open(newline="", encoding="utf-8") as handle:
        got = list(csv.DictReader(handle))
    assert tuple(got[0]) == CSV_COLUMNS
    assert [int(g["id"]) for g in got] == [5, 6]
    assert D(got[0]["fees"]) == D("0.005097612") and got[0]["realized_pnl"] == ""
    assert datetime.fromisoformat(got[1]["created_at"]) == T


def test_default_path_is_in_the_user_data_dir() -> None:
    path = default_export_path(T)
    assert path.name == "trades-20261124T123000Z.csv" and path.parent.name == "exports"

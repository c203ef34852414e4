"""Shared by the engine process tests: run `oneclick`, seed followers in bulk, recompute books.

The recomputation is deliberately independent of `domain.positions`: plain average cost,
fees deducted from realized PnL, applied to the recorded fills in execution order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.models import FollowRelationship, Position, User, UserPreferences

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def cli_env(url: str) -> dict[str, str]:
    """The environment for `oneclick` against `url` (XDG dirs are the test's, see conftest)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONECLICK_")}
    env["ONECLICK_DATABASE_URL"] = url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m oneclick_tui ARGS`; fails the test with its output if it exits non-zero."""
    done = subprocess.run(
        [PYTHON, "-m", "oneclick_tui", *args],
        cwd=REPO,
        env=cli_env(url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"oneclick {' '.join(args)} -> {done.returncode}\n{done.stderr}"
    return done


def start_engine(url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """The engine as a child process, its log (stderr) going to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [PYTHON, "-m", "oneclick_tui", "engine", *args],
            cwd=REPO,
            env=cli_env(url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_until(predicate: Any, timeout: float, every: float = 0.2, what: str = "") -> None:
    """Poll `predicate()` until true; a bounded wait, never a sleep-and-hope."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


async def seed_followers(
    sessions: async_sessionmaker[AsyncSession],
    follows: Mapping[int, Iterable[int]],
    users: int,
    cash: Mapping[str, Decimal],
    prefs: Any = None,
    terms: Any = None,
) -> list[int]:
    """`users` users with preferences and cash, following trader ids per `follows` (bulk).

    `follows` maps a user index to the trader ids it follows; `prefs(i)` and `terms(i)` give
    per-user overrides of preferences and follow terms.
    """
    async with sessions.begin() as s:
        result = await s.execute(
            User.__table__.insert().returning(User.id, sort_by_parameter_order=True),
            [
                {"display_name": f"follower{i}", "status": "active", "verification_level": 0}
                for i in range(users)
            ],
        )
        ids = list(result.scalars())
        await s.execute(
            UserPreferences.__table__.insert(),
            [
                {
                    "user_id": u,
                    "risk_tolerance": "high",
                    "max_slippage_pct": Decimal(1),
                    "max_trade_amount": None,
                    "allowed_assets": None,
                }
                | (prefs(i) if prefs else {})
                for i, u in enumerate(ids)
            ],
        )
        await s.execute(
            Position.__table__.insert(),
            [
                {
                    "user_id": u,
                    "asset": asset,
                    "quantity": amount,
                    "average_cost": Decimal(1),
                    "realized_pnl": Decimal(0),
                }
                for u in ids
                for asset, amount in cash.items()
            ],
        )
        rows = []
        for i, u in enumerate(ids):
            for trader_id in follows.get(i, ()):
                row = {
                    "follower_id": u,
                    "trader_id": trader_id,
                    "copy_percentage": Decimal(10),
                    "sizing_mode": "copy_pct",
                    "copy_side": "all",
                    "auto_copy_enabled": True,
                    "status": "active",
                    "fixed_quote_amount": None,
                    "paused_at": None,
                }
                row.update(terms(i) if terms else {})
                if row["status"] == "paused":
                    row["paused_at"] = datetime(2026, 1, 1, tzinfo=UTC)
                rows.append(row)
        await s.execute(FollowRelationship.__table__.insert(), rows)
    return ids


@dataclass
class Book:
    """One asset's holding, recomputed: quantity, cost basis, realized PnL."""

    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)


@dataclass
class Fill:
    base: str
    quote: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    notional: Decimal


@dataclass
class Ledger:
    """Every asset of one user, from the starting cash and the completed fills."""

    assets: dict[str, Book] = field(default_factory=dict)

    def book(self, asset: str) -> Book:
        return self.assets.setdefault(asset, Book())

    def apply(self, f: Fill) -> None:
        base, cash = self.book(f.base), self.book(f.quote)
        if f.side == "buy":
            base.quantity += f.amount
            base.cost += f.amount * f.price
            base.realized -= f.fee
            cash.quantity -= f.notional + f.fee
        else:
            average = base.cost / base.quantity
            removed = base.cost if f.amount == base.quantity else average * f.amount
            base.quantity -= f.amount
            base.cost -= removed
            base.realized += f.amount * f.price - removed - f.fee
            cash.quantity += f.notional - f.fee


def close(a: Decimal, b: Decimal, tolerance: Decimal = Decimal("1e-9")) -> bool:
    return abs(a - b) <= tolerance

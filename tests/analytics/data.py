"""Deterministic analytics data: pairs, lead traders, their trades, daily candles, one user."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores import models as m

D = Decimal
START = date(2026, 10, 20)


@dataclass
class Dataset:
    pairs: dict[str, int] = field(default_factory=dict)
    traders: list[int] = field(default_factory=list)
    balances: dict[int, Decimal] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    closes: dict[int, dict[date, Decimal]] = field(default_factory=dict)
    user_id: int | None = None
    last_day: date = START


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


async def insert_pairs(engine: AsyncEngine, ds: Dataset) -> None:
    async with engine.begin() as conn:
        for i, (base, quote) in enumerate((("APT", "USDC"), ("WETH", "USDC")), start=1):
            await conn.execute(
                m.TradingPair.__table__.insert(),
                {"id": i, "base_asset": base, "quote_asset": quote, "dex_protocol": "hyperion",
                 "min_trade_size": D("0.0001"), "tick_size": D("0.0001"),
                 "fee_rate": D("0.003"), "is_active": True},
            )  # fmt: skip
            ds.pairs[f"{base}/{quote}"] = i


async def insert_trader(engine: AsyncEngine, ds: Dataset, tid: int, balance: Decimal) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            m.Trader.__table__.insert(),
            {"id": tid, "wallet_address": f"0x{tid:064x}", "display_name": f"trader-{tid:03d}",
             "registered_at": at(START, 0), "verification_status": "verified",
             "risk_category": "medium", "starting_balance": balance, "is_simulated": True},
        )  # fmt: skip
    ds.traders.append(tid)
    ds.balances[tid] = balance


def lead_row(tid: int, pair_id: int, side: str, amount: Decimal, price: Decimal, fee: Decimal,
             when: datetime, n: int) -> dict[str, Any]:  # fmt: skip
    return {
        "kind": "lead", "user_id": None, "trader_id": tid, "pair_id": pair_id,
        "copy_of_trade_id": None, "trade_type": side, "amount": amount, "price": price,
        "total_value": amount * price, "fees_paid": fee, "realized_pnl": None,
        "status": "completed", "skip_reason": None, "failure_reason": None,
        "tx_hash": f"0xlead{n:010d}", "chain_version": n, "executed_at": when, "created_at": when,
    }  # fmt: skip


async def insert_trades(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    if rows:
        async with engine.begin() as conn:
            await conn.execute(m.Trade.__table__.insert(), rows)


async def insert_daily_candles(engine: AsyncEngine, closes: dict[int, dict[date, Decimal]]) -> None:
    rows = []
    for pair_id, by_day in closes.items():
        for day, close in by_day.items():
            rows.append(
                {"pair_id": pair_id, "timeframe": "1d", "bucket_at": at(day, 0), "open": close,
                 "high": close, "low": close, "close": close, "volume": D(1), "vwap": close,
                 "trade_count": 1}
            )  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(m.MarketData.__table__.insert(), rows)


def random_dataset(seed: int, n_traders: int, days: int) -> Dataset:
    """Traders trading one pair each, long only, closing round trips now and then."""
    rng = random.Random(seed)
    ds = Dataset(last_day=START + timedelta(days=days - 1))
    prices = {1: D("8.45"), 2: D("3180")}
    for pair_id in (1, 2):
        price = prices[pair_id]
        ds.closes[pair_id] = {}
        for d in range(days):
            price = (price * D(str(round(rng.uniform(0.93, 1.08), 4)))).quantize(D("0.0001"))
            ds.closes[pair_id][START + timedelta(days=d)] = price
    n = 0
    for tid in range(1, n_traders + 1):
        pair_id = 1 if tid % 3 else 2
        balance = D(rng.choice([1000, 2500, 10000]))
        ds.balances[tid] = balance
        ds.traders.append(tid)
        cash, qty = balance, D(0)
        for d in range(days):
            day = START + timedelta(days=d)
            close = ds.closes[pair_id][day]
            for k in range(rng.randint(0, 3)):
                price = (close * D(str(round(rng.uniform(0.97, 1.03), 4)))).quantize(D("0.0001"))
                when = at(day, 1 + k * 5, rng.randint(0, 59))
                fee = (price * D("0.01")).quantize(D("0.000001"))
                if qty > 0 and rng.random() < 0.45:
                    amount = qty if rng.random() < 0.6 else (qty / 2).quantize(D("0.0001"))
                    side = "sell"
                    cash += amount * price - fee
                    qty -= amount
                else:
                    spend = (cash * D("0.3")).quantize(D("0.01"))
                    amount = (spend / price).quantize(D("0.0001"))
                    if amount <= 0 or amount * price + fee > cash:
                        continue
                    side = "buy"
                    cash -= amount * price + fee
                    qty += amount
                n += 1
                ds.trades.append(lead_row(tid, pair_id, side, amount, price, fee, when, n))
    # The same trader id may tie with another: give two traders identical trades.
    return ds


async def load_dataset(engine: AsyncEngine, ds: Dataset) -> None:
    await insert_pairs(engine, ds)
    for tid in ds.traders:
        async with engine.begin() as conn:
            await conn.execute(
                m.Trader.__table__.insert(),
                {"id": tid, "wallet_address": f"0x{tid:064x}", "display_name": f"trader-{tid:03d}",
                 "registered_at": at(START, 0), "verification_status": "verified",
                 "risk_category": "medium", "starting_balance": ds.balances[tid],
                 "is_simulated": True},
            )  # fmt: skip
    await insert_trades(engine, sorted(ds.trades, key=lambda r: r["executed_at"]))
    await insert_daily_candles(engine, ds.closes)

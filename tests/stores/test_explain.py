"""The console's main queries use the indexes built for them (PostgreSQL's planner, real data).

Rows are generated server-side with generate_series, then ANALYZEd, so the planner chooses on
real statistics; sequential scans stay enabled.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine

pytestmark = pytest.mark.postgres

LOAD = [
    "INSERT INTO users (status, verification_level, created_at) "
    "SELECT 'active', 0, now() FROM generate_series(1, 500)",
    "INSERT INTO traders (wallet_address, display_name, registered_at, verification_status, "
    "risk_category, is_simulated) SELECT '0x' || i, 'trader' || i, now(), 'verified', 'medium', "
    "true FROM generate_series(1, 50) AS i",
    "INSERT INTO trading_pairs (base_asset, quote_asset, dex_protocol, min_trade_size, "
    "tick_size, fee_rate, is_active) SELECT 'T' || i, 'USDC', 'sim', 0.1, 0.001, 0.003, true "
    "FROM generate_series(1, 5) AS i",
    "INSERT INTO trades (kind, user_id, pair_id, trade_type, amount, price, total_value, "
    "fees_paid, status, executed_at, created_at) "
    "SELECT 'manual', 1 + i % 500, 1 + i % 5, 'buy', 1, 10, 10, 0, "
    "CASE WHEN i % 200 = 0 THEN 'pending' ELSE 'completed' END, "
    "timestamptz '2026-01-01' + i * interval '1 second', "
    "timestamptz '2026-01-01' + i * interval '1 second' FROM generate_series(1, 40000) AS i",
    "INSERT INTO market_data (pair_id, timeframe, bucket_at, open, high, low, close, volume, "
    "trade_count) SELECT p, '1m', timestamptz '2026-01-01' + m * interval '1 minute', "
    "10, 11, 9, 10, 100, 5 FROM generate_series(1, 5) AS p, generate_series(1, 8000) AS m",
    "INSERT INTO follow_relationships (follower_id, trader_id, started_at, ended_at, "
    "auto_copy_enabled, copy_percentage, sizing_mode, copy_side, status) "
    "SELECT u, t, now(), CASE WHEN (u + t) % 10 = 0 THEN NULL ELSE now() END, true, 50, "
    "'copy_pct', 'all', CASE WHEN (u + t) % 10 = 0 THEN 'active' ELSE 'ended' END "
    "FROM generate_series(1, 500) AS u, generate_series(1, 50) AS t",
]

QUERIES = {
    "a user's recent trades": (
        "SELECT id, pair_id, trade_type, amount, price, status, executed_at FROM trades "
        "WHERE user_id = 7 ORDER BY executed_at DESC LIMIT 50",
        "ix_trades_user_executed",
    ),
    "a pair's candles in a range": (
        "SELECT bucket_at, open, high, low, close, volume FROM market_data "
        "WHERE pair_id = 2 AND timeframe = '1m' AND bucket_at >= timestamptz '2026-01-02' "
        "AND bucket_at < timestamptz '2026-01-02 06:00' ORDER BY bucket_at",
        "uq_market_data_pair_id_timeframe_bucket_at",
    ),
    "active follows of a trader": (
        "SELECT follower_id, copy_percentage, auto_copy_enabled FROM follow_relationships "
        "WHERE trader_id = 3 AND status = 'active'",
        "ix_follow_relationships_trader_active",
    ),
    "pending copies": (
        "SELECT id, user_id, status FROM trades WHERE status IN ('pending', 'submitted') "
        "ORDER BY created_at LIMIT 100",
        "ix_trades_unfinished",
    ),
}


@pytest.fixture
async def loaded(fresh_pg_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate.upgrade(fresh_pg_url)
    engine = make_engine(fresh_pg_url)
    async with engine.begin() as conn:
        for statement in LOAD:
            await conn.execute(text(statement))
    async with engine.connect() as conn:  # VACUUM sets the visibility map index-only scans need
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    yield engine
    await engine.dispose()


def _index_names(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if "Index Name" in node:  # a partition's index is `<parent index>__<partition>`
            found.add(node["Index Name"].split("__", 1)[0])
        for value in node.values():
            found |= _index_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _index_names(item)
    return found


async def test_main_queries_use_their_indexes(loaded: AsyncEngine) -> None:
    misses, plans = {}, {}
    async with loaded.connect() as conn:
        for label, (sql, index) in QUERIES.items():
            raw = (await conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
            plans[label] = json.loads(raw) if isinstance(raw, str) else raw
            if index not in _index_names(plans[label]):
                misses[label] = plans[label]
    assert misses == {}, json.dumps(misses, indent=1)[:4000]
    # The covering index (INCLUDE columns) answers the copy engine's fan-out without the table.
    assert "Index Only Scan" in json.dumps(plans["active follows of a trader"])

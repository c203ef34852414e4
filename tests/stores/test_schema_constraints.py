"""Every CHECK, UNIQUE and FOREIGN KEY rejects bad data, on SQLite and on PostgreSQL.

One valid row per table is seeded; each case then writes a row that breaks exactly one rule
and must be refused with that constraint's name. SQLite does not name foreign keys, so there
only "a foreign key failed" is checked. One database per backend keeps this fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine
from oneclick_tui.stores.errors import FOREIGN_KEY, constraint_name
from oneclick_tui.stores.models import Base

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
TABLES = Base.metadata.tables

# What every execution_journal row needs besides its trade and hash (migration 0004).
JOURNAL: dict[str, Any] = {
    "chain_id": 2,
    "sender": "0xs",
    "sequence_number": 0,
    "expiration_timestamp_secs": 1,
    "signed_bcs": b"\x00",
    "status": "signed",
    "created_at": T0,
    "updated_at": T0,
}


SEED: list[tuple[str, dict[str, Any]]] = [
    ("users", {"id": 1, "wallet_address": "0xu1", "status": "active", "verification_level": 0}),
    ("users", {"id": 2, "status": "active", "verification_level": 0}),
    ("user_preferences", {"user_id": 1, "risk_tolerance": "medium", "max_slippage_pct": D(1)}),
    ("user_sessions", {"id": "s1", "user_id": 1, "created_at": T0, "expires_at": T1}),
    ("traders", {"id": 1, "wallet_address": "0xt1", "display_name": "alice"}),
    ("traders", {"id": 2, "wallet_address": "0xt2", "display_name": "carol"}),
    (
        "trading_pairs",
        {
            "id": 1,
            "base_asset": "APT",
            "quote_asset": "USDC",
            "dex_protocol": "sim",
            "min_trade_size": D("0.1"),
            "tick_size": D("0.001"),
        },
    ),
    (
        "trades",
        {
            "id": 1,
            "kind": "lead",
            "trader_id": 1,
            "pair_id": 1,
            "trade_type": "buy",
            "amount": D(10),
            "price": D("8.5"),
            "status": "completed",
            "tx_hash": "0xtx1",
        },
    ),
    (
        "trades",
        {
            "id": 2,
            "kind": "copy",
            "user_id": 1,
            "trader_id": 1,
            "copy_of_trade_id": 1,
            "pair_id": 1,
            "trade_type": "buy",
            "amount": D(1),
            "price": D("8.5"),
            "status": "completed",
        },
    ),
    ("positions", {"user_id": 1, "asset": "APT", "quantity": D(1), "average_cost": D(8)}),
    ("trader_performance", {"trader_id": 1, "period": "daily", "period_start_at": T0}),
    ("portfolio_analytics", {"user_id": 1, "snapshot_date": date(2026, 1, 1), "total_value": D(1)}),
    (
        "market_data",
        {
            "pair_id": 1,
            "timeframe": "1m",
            "bucket_at": T0,
            "open": D(10),
            "high": D(10),
            "low": D(10),
            "close": D(10),
        },
    ),
    ("follow_relationships", {"follower_id": 1, "trader_id": 1, "copy_percentage": D(50)}),
    (
        "leaderboards",
        {"period": "daily", "metric": "pnl", "rank": 1, "trader_id": 1, "score": D(1)},
    ),
    (
        "community_interactions",
        {"user_id": 1, "target_type": "trader", "target_id": 1, "interaction_type": "like"},
    ),
    ("wallets", {"user_id": 1, "address": "0xw1"}),
    ("chain_cursors", {"source": "sim", "cursor": "0"}),
    (
        "metric_points",
        {
            "measurement": "equity",
            "series_key": "user=1",
            "tags": {"user": "1"},
            "fields": {"value": "0"},
            "recorded_at": T0,
        },
    ),
    ("execution_journal", {"trade_id": 1, "tx_hash": "0xj1"} | JOURNAL),
]

# A valid new row per table (no clash with the seed); each case overrides some columns.
VALID: dict[str, dict[str, Any]] = {
    "users": {"status": "active", "verification_level": 0},
    "user_preferences": {"user_id": 2, "risk_tolerance": "low", "max_slippage_pct": D(1)},
    "user_sessions": {"id": "s2", "user_id": 1, "created_at": T0, "expires_at": T1},
    "traders": {"wallet_address": "0xt3", "display_name": "bob"},
    "trading_pairs": {
        "base_asset": "ETH",
        "quote_asset": "USDC",
        "dex_protocol": "sim",
        "min_trade_size": D("0.01"),
        "tick_size": D("0.01"),
    },
    "trades": {
        "kind": "manual",
        "user_id": 1,
        "pair_id": 1,
        "trade_type": "buy",
        "amount": D(1),
        "price": D(9),
        "status": "completed",
    },
    "positions": {"user_id": 2, "asset": "APT", "quantity": D(1), "average_cost": D(8)},
    "copy_holdings": {
        "follower_id": 2,
        "trader_id": 1,
        "pair_id": 1,
        "base_built": D(1),
        "updated_at": T0,
    },
    "trader_performance": {"trader_id": 1, "period": "weekly", "period_start_at": T0},
    "portfolio_analytics": {"user_id": 2, "snapshot_date": date(2026, 1, 1), "total_value": D(1)},
    "market_data": {
        "pair_id": 1,
        "timeframe": "5m",
        "bucket_at": T0,
        "open": D(10),
        "high": D(10),
        "low": D(10),
        "close": D(10),
    },
    "follow_relationships": {"follower_id": 2, "trader_id": 1, "copy_percentage": D(50)},
    "leaderboards": {"period": "weekly", "metric": "pnl", "rank": 1, "trader_id": 1, "score": D(1)},
    "community_interactions": {
        "user_id": 1,
        "target_type": "trader",
        "target_id": 2,
        "interaction_type": "like",
    },
    "audit_log": {"actor": "system", "action": "x", "entity_type": "y"},
    "metric_points": {
        "measurement": "equity",
        "series_key": "user=1",
        "tags": {"user": "1"},
        "fields": {"value": "1"},
        "recorded_at": T1,
    },
    "wallets": {"user_id": 1, "address": "0xw2"},
    "chain_cursors": {"source": "aptos:testnet", "cursor": "1"},
    "execution_journal": {"trade_id": 2, "tx_hash": "0xj2"} | JOURNAL,
}

LONG = "x" * 1001

# (table, overrides, expected constraint name or names)
CASES: list[tuple[str, dict[str, Any], str | tuple[str, ...]]] = [
    ("users", {"status": "banned"}, "ck_users_status"),
    ("users", {"verification_level": 4}, "ck_users_verification_level"),
    ("users", {"wallet_address": "0xu1"}, "uq_users_wallet_address"),
    ("users", {"status": None}, "not_null_users_status"),
    (
        "user_preferences",
        {"max_trade_amount": D(0)},
        "ck_user_preferences_max_trade_amount_positive",
    ),
    (
        "user_preferences",
        {"daily_trading_limit": D(-1)},
        "ck_user_preferences_daily_limit_positive",
    ),
    ("user_preferences", {"stop_loss_pct": D(101)}, "ck_user_preferences_stop_loss_pct_range"),
    ("user_preferences", {"risk_tolerance": "yolo"}, "ck_user_preferences_risk_tolerance"),
    ("user_preferences", {"max_slippage_pct": D(-1)}, "ck_user_preferences_max_slippage_pct_range"),
    ("user_preferences", {"user_id": 1}, "pk_user_preferences"),
    ("user_preferences", {"user_id": 999}, "fk_user_preferences_user_id_users"),
    ("user_sessions", {"expires_at": T0}, "ck_user_sessions_expires_after_created"),
    ("user_sessions", {"id": "s1"}, "pk_user_sessions"),
    ("user_sessions", {"user_id": 999}, "fk_user_sessions_user_id_users"),
    ("traders", {"risk_category": "wild"}, "ck_traders_risk_category"),
    ("traders", {"verification_status": "maybe"}, "ck_traders_verification_status"),
    ("traders", {"starting_balance": D(-1)}, "ck_traders_starting_balance_nonneg"),
    ("traders", {"wallet_address": "0xt1"}, "uq_traders_wallet_address"),
    ("traders", {"display_name": "alice"}, "uq_traders_display_name"),
    ("traders", {"display_name": None}, "not_null_traders_display_name"),
    ("trading_pairs", {"min_trade_size": D(0)}, "ck_trading_pairs_min_trade_size_positive"),
    ("trading_pairs", {"tick_size": D(-1)}, "ck_trading_pairs_tick_size_positive"),
    ("trading_pairs", {"fee_rate": D("1.5")}, "ck_trading_pairs_fee_rate_range"),
    ("trading_pairs", {"base_asset": "USDC"}, "ck_trading_pairs_distinct_assets"),
    (
        "trading_pairs",
        {"base_asset": "APT"},
        "uq_trading_pairs_base_asset_quote_asset_dex_protocol",
    ),
    ("trades", {"kind": "gift"}, "ck_trades_kind"),
    ("trades", {"trade_type": "hold"}, "ck_trades_trade_type"),
    ("trades", {"status": "lost"}, "ck_trades_status"),
    ("trades", {"amount": D(0)}, "ck_trades_amount_positive"),
    (
        "trades",
        {"amount": D(-1), "status": "skipped", "skip_reason": "x"},
        "ck_trades_amount_positive",
    ),
    ("trades", {"price": D(0)}, "ck_trades_price_positive"),
    ("trades", {"price": None}, "ck_trades_price_positive"),
    ("trades", {"fees_paid": D(-1)}, "ck_trades_fees_nonneg"),
    ("trades", {"status": "skipped"}, "ck_trades_skip_reason_iff_skipped"),
    ("trades", {"skip_reason": "why"}, "ck_trades_skip_reason_iff_skipped"),
    ("trades", {"kind": "lead", "trader_id": 1}, "ck_trades_lead_has_no_user"),
    ("trades", {"kind": "manual", "user_id": None}, "ck_trades_lead_has_no_user"),
    ("trades", {"kind": "copy", "trader_id": 1}, "ck_trades_copy_has_lead_trade"),
    ("trades", {"kind": "copy", "copy_of_trade_id": 1, "user_id": 2}, "ck_trades_trader_required"),
    (
        "trades",
        {"kind": "copy", "trader_id": 1, "copy_of_trade_id": 1},
        "uq_trades_user_id_copy_of_trade_id",
    ),
    (
        "trades",
        {"status": "skipped", "skip_reason": "limit", "amount": D(0), "copy_of_trade_id": 1},
        "uq_trades_user_id_copy_of_trade_id",
    ),
    ("trades", {"tx_hash": "0xtx1"}, "uq_trades_tx_hash"),
    ("trades", {"pair_id": 999}, "fk_trades_pair_id_trading_pairs"),
    ("trades", {"user_id": 999}, "fk_trades_user_id_users"),
    ("trades", {"trader_id": 999}, "fk_trades_trader_id_traders"),
    ("trades", {"copy_of_trade_id": 999}, "fk_trades_copy_of_trade_id_trades"),
    ("positions", {"quantity": D(-1)}, "ck_positions_quantity_nonneg"),
    ("positions", {"average_cost": D(-1)}, "ck_positions_average_cost_nonneg"),
    ("positions", {"user_id": 1}, "uq_positions_user_id_asset"),
    ("positions", {"user_id": 999}, "fk_positions_user_id_users"),
    ("copy_holdings", {"follower_id": 999}, "fk_copy_holdings_follower_id_users"),
    ("copy_holdings", {"trader_id": 999}, "fk_copy_holdings_trader_id_traders"),
    ("copy_holdings", {"pair_id": 999}, "fk_copy_holdings_pair_id_trading_pairs"),
    ("positions", {"pair_id": 999}, "fk_positions_pair_id_trading_pairs"),
    ("trader_performance", {"period": "hourly"}, "ck_trader_performance_period"),
    ("trader_performance", {"win_rate": D(101)}, "ck_trader_performance_win_rate_range"),
    ("trader_performance", {"max_drawdown": D(-1)}, "ck_trader_performance_max_drawdown_nonneg"),
    ("trader_performance", {"volatility": D(-1)}, "ck_trader_performance_volatility_nonneg"),
    ("trader_performance", {"num_trades": -1}, "ck_trader_performance_num_trades_nonneg"),
    (
        "trader_performance",
        {"period": "daily"},
        "uq_trader_performance_trader_id_period_period_start_at",
    ),
    ("trader_performance", {"trader_id": 999}, "fk_trader_performance_trader_id_traders"),
    ("portfolio_analytics", {"total_value": D(-1)}, "ck_portfolio_analytics_total_value_nonneg"),
    ("portfolio_analytics", {"risk_score": D(101)}, "ck_portfolio_analytics_risk_score_range"),
    (
        "portfolio_analytics",
        {"diversification_index": D(2)},
        "ck_portfolio_analytics_diversification_range",
    ),
    (
        "portfolio_analytics",
        {"following_count": -1},
        "ck_portfolio_analytics_following_count_nonneg",
    ),
    (
        "portfolio_analytics",
        {"active_positions": -1},
        "ck_portfolio_analytics_active_positions_nonneg",
    ),
    ("portfolio_analytics", {"user_id": 1}, "uq_portfolio_analytics_user_id_snapshot_date"),
    ("portfolio_analytics", {"user_id": 999}, "fk_portfolio_analytics_user_id_users"),
    ("market_data", {"timeframe": "2m"}, "ck_market_data_timeframe"),
    ("market_data", {"low": D(0)}, "ck_market_data_prices_positive"),
    (
        "market_data",
        {"high": D(9)},
        ("ck_market_data_high_ge_low", "ck_market_data_open_close_in_range"),
    ),
    ("market_data", {"high": D(12), "open": D(13)}, "ck_market_data_open_close_in_range"),
    ("market_data", {"high": D(12), "close": D(9)}, "ck_market_data_open_close_in_range"),
    ("market_data", {"volume": D(-1)}, "ck_market_data_volume_nonneg"),
    ("market_data", {"vwap": D(11)}, "ck_market_data_vwap_in_range"),
    ("market_data", {"trade_count": -1}, "ck_market_data_trade_count_nonneg"),
    ("market_data", {"timeframe": "1m"}, "uq_market_data_pair_id_timeframe_bucket_at"),
    ("market_data", {"pair_id": 999}, "fk_market_data_pair_id_trading_pairs"),
    ("metric_points", {"measurement": None}, "not_null_metric_points_measurement"),
    (
        "metric_points",
        {"recorded_at": T0},
        "uq_metric_points_measurement_series_key_recorded_at",
    ),
    (
        "follow_relationships",
        {"copy_percentage": D(0)},
        "ck_follow_relationships_copy_percentage_range",
    ),
    (
        "follow_relationships",
        {"copy_percentage": D(150)},
        "ck_follow_relationships_copy_percentage_range",
    ),
    ("follow_relationships", {"sizing_mode": "yolo"}, "ck_follow_relationships_sizing_mode"),
    ("follow_relationships", {"copy_side": "both"}, "ck_follow_relationships_copy_side"),
    ("follow_relationships", {"status": "zombie"}, "ck_follow_relationships_status"),
    (
        "follow_relationships",
        {"fixed_quote_amount": D(0)},
        "ck_follow_relationships_fixed_quote_positive",
    ),
    (
        "follow_relationships",
        {"sizing_mode": "fixed_quote"},
        "ck_follow_relationships_fixed_quote_required",
    ),
    ("follow_relationships", {"status": "ended"}, "ck_follow_relationships_ended_has_time"),
    ("follow_relationships", {"status": "paused"}, "ck_follow_relationships_paused_has_time"),
    ("follow_relationships", {"follower_id": 1}, "uq_follow_relationships_live"),
    (
        "follow_relationships",
        {"follower_id": 1, "status": "paused", "paused_at": T0},
        "uq_follow_relationships_live",
    ),
    ("follow_relationships", {"trader_id": 999}, "fk_follow_relationships_trader_id_traders"),
    ("follow_relationships", {"follower_id": 999}, "fk_follow_relationships_follower_id_users"),
    ("leaderboards", {"period": "hourly"}, "ck_leaderboards_period"),
    ("leaderboards", {"metric": "vibes"}, "ck_leaderboards_metric"),
    ("leaderboards", {"rank": 0}, "ck_leaderboards_rank_positive"),
    ("leaderboards", {"period": "daily", "rank": 2}, "uq_leaderboards_period_metric_trader_id"),
    ("leaderboards", {"period": "daily", "trader_id": 2}, "uq_leaderboards_period_metric_rank"),
    ("leaderboards", {"trader_id": 999}, "fk_leaderboards_trader_id_traders"),
    ("community_interactions", {"target_type": "user"}, "ck_community_interactions_target_type"),
    (
        "community_interactions",
        {"interaction_type": "poke"},
        "ck_community_interactions_interaction_type",
    ),
    (
        "community_interactions",
        {"interaction_type": "comment"},
        "ck_community_interactions_comment_content",
    ),
    (
        "community_interactions",
        {"interaction_type": "comment", "content": ""},
        "ck_community_interactions_comment_content",
    ),
    (
        "community_interactions",
        {"interaction_type": "share", "content": LONG},
        "ck_community_interactions_content_length",
    ),
    ("community_interactions", {"target_id": 1}, "uq_community_interactions_like"),
    ("community_interactions", {"user_id": 999}, "fk_community_interactions_user_id_users"),
    ("audit_log", {"actor": None}, "not_null_audit_log_actor"),
    ("wallets", {"address": "0xw1"}, "uq_wallets_address"),
    ("execution_journal", {"status": "maybe"}, "ck_execution_journal_status"),
    ("execution_journal", {"trade_id": 1}, "uq_execution_journal_trade_id"),
    ("execution_journal", {"tx_hash": "0xj1"}, "uq_execution_journal_tx_hash"),
    ("wallets", {"user_id": 999}, "fk_wallets_user_id_users"),
    ("chain_cursors", {"source": "sim"}, "pk_chain_cursors"),
]

# Rows that look close to a rule but are allowed.
ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    (
        "trades",
        {"status": "skipped", "skip_reason": "over daily limit", "amount": D(0), "price": None},
    ),
    ("trades", {"kind": "lead", "user_id": None, "trader_id": 2, "tx_hash": "0xtx2"}),
    ("trades", {"kind": "copy", "user_id": 2, "trader_id": 1, "copy_of_trade_id": 1}),
    ("trades", {"realized_pnl": D("-12.5")}),
    ("users", {"wallet_address": None}),
    ("follow_relationships", {"follower_id": 1, "status": "ended", "ended_at": T1}),
    ("follow_relationships", {"follower_id": 1, "status": "ended", "ended_at": T1}),
    ("community_interactions", {"target_id": 1, "interaction_type": "comment", "content": "nice"}),
    ("community_interactions", {"target_id": 1, "interaction_type": "share"}),
    ("market_data", {"high": D(12), "low": D(9), "vwap": D("10.5"), "timeframe": "1h"}),
    ("user_preferences", {"stop_loss_pct": None, "allowed_assets": ["APT"]}),
]


@pytest.fixture
async def seeded(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate.upgrade(fresh_db_url)
    engine = make_engine(fresh_db_url)
    async with engine.begin() as conn:
        for table, row in SEED:
            await conn.execute(insert(TABLES[table]).values(row))
        if engine.dialect.name == "postgresql":  # explicit ids do not advance the sequences
            for table in ("users", "traders", "trading_pairs", "trades"):
                await conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)")
                )
    yield engine
    await engine.dispose()


async def _refusal(engine: AsyncEngine, table: str, row: dict[str, Any]) -> str | None:
    """The constraint that refused the row, or None if it was accepted (then rolled back)."""
    try:
        async with engine.connect() as conn, conn.begin() as tx:
            await conn.execute(insert(TABLES[table]).values(row))
            await tx.rollback()
    except IntegrityError as exc:
        return constraint_name(exc) or f"unnamed: {exc.orig}"
    return None


def _expected(names: str | tuple[str, ...], dialect: str) -> set[str]:
    wanted = {names} if isinstance(names, str) else set(names)
    if dialect == "sqlite":  # SQLite does not say which foreign key failed
        wanted = {FOREIGN_KEY if name.startswith("fk_") else name for name in wanted}
    return wanted


def test_every_constraint_is_covered() -> None:
    """Each named CHECK, UNIQUE and FK in the models has at least one refusing case."""
    covered = {
        name for _, _, names in CASES for name in ((names,) if isinstance(names, str) else names)
    }
    declared: set[str] = set()
    for table in TABLES.values():
        for item in (*table.constraints, *table.indexes):
            name = str(item.name)
            if (
                name.startswith(("ck_", "uq_", "fk_"))
                and getattr(item, "unique", True) is not False
            ):
                declared.add(name)
    assert declared - covered == set()


async def test_bad_rows_are_refused_by_the_named_constraint(seeded: AsyncEngine) -> None:
    dialect = seeded.dialect.name
    wrong = []
    for table, overrides, names in CASES:
        got = await _refusal(seeded, table, VALID[table] | overrides)
        if got not in _expected(names, dialect):
            wrong.append(f"{table} {overrides}: expected {names}, got {got}")
    assert wrong == []


async def test_rows_near_the_rules_are_accepted(seeded: AsyncEngine) -> None:
    for table, overrides in ACCEPTED:
        assert await _refusal(seeded, table, VALID[table] | overrides) is None, (table, overrides)


async def test_valid_rows_are_accepted(seeded: AsyncEngine) -> None:
    for table, row in VALID.items():
        assert await _refusal(seeded, table, row) is None, table


async def test_on_delete_rules(seeded: AsyncEngine) -> None:
    users, pairs, traders = TABLES["users"], TABLES["trading_pairs"], TABLES["traders"]
    positions = TABLES["positions"]
    async with seeded.begin() as conn:  # a pair only referenced by a position: SET NULL
        await conn.execute(insert(pairs).values(VALID["trading_pairs"] | {"id": 7}))
        await conn.execute(insert(positions).values(VALID["positions"] | {"pair_id": 7}))
        await conn.execute(delete(pairs).where(pairs.c.id == 7))
        left = (
            await conn.execute(select(positions.c.pair_id).where(positions.c.user_id == 2))
        ).one()
    assert left == (None,)
    # RESTRICT: a pair with trades, a trader with follows, a user with trades.
    for table, key in ((pairs, 1), (traders, 1), (users, 1)):
        with pytest.raises(IntegrityError) as caught:
            async with seeded.begin() as conn:
                await conn.execute(delete(table).where(table.c.id == key))
        assert constraint_name(caught.value) is not None
    # CASCADE: user 2 has only preferences-like rows.
    async with seeded.begin() as conn:
        await conn.execute(insert(TABLES["user_preferences"]).values(VALID["user_preferences"]))
        await conn.execute(delete(users).where(users.c.id == 2))
        prefs = TABLES["user_preferences"]
        remaining = (await conn.execute(select(prefs.c.user_id))).scalars().all()
        assert remaining == [1]
        assert (
            await conn.execute(select(positions.c.id).where(positions.c.user_id == 2))
        ).all() == []

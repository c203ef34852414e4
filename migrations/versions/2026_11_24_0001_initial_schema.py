"""Initial schema: the seed's thirteen tables plus audit_log, metric_points, wallets, chain_cursors.

Self-contained on purpose: column types are spelled out here (not imported from the app) so
later changes to the models cannot change what this revision creates. Decimals and
timestamps are TEXT on SQLite, exactly as oneclick_tui.stores.types stores them there.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:47:20.300733
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _decimal(precision: int, scale: int) -> sa.types.TypeEngine:
    return sa.Numeric(precision, scale).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=True),
        sa.Column("before", _JSON, nullable=True),
        sa.Column("after", _JSON, nullable=True),
        sa.Column("prev_hash", sa.String(length=128), nullable=True),
        sa.Column("row_hash", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_entity",
        "audit_log",
        ["entity_type", "entity_id", "occurred_at"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"], unique=False)
    op.create_table(
        "chain_cursors",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_chain_cursors")),
    )
    op.create_table(
        "metric_points",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("measurement", sa.String(length=64), nullable=False),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_points")),
    )
    op.create_index(
        "ix_metric_points_series_time",
        "metric_points",
        ["measurement", "series_key", "recorded_at"],
        unique=False,
    )
    op.create_table(
        "traders",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("wallet_address", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("registered_at", _TS, nullable=False),
        sa.Column("verification_status", sa.String(length=16), nullable=False),
        sa.Column("performance_rating", _decimal(20, 8), nullable=True),
        sa.Column("risk_category", sa.String(length=16), nullable=False),
        sa.Column("style", sa.Text(), nullable=True),
        sa.Column("starting_balance", _decimal(38, 18), nullable=True),
        sa.Column("is_simulated", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "risk_category IN ('low', 'medium', 'high', 'extreme')",
            name=op.f("ck_traders_risk_category"),
        ),
        sa.CheckConstraint(
            "verification_status IN ('unverified', 'pending', 'verified')",
            name=op.f("ck_traders_verification_status"),
        ),
        sa.CheckConstraint(
            "CAST(starting_balance AS NUMERIC) >= 0",
            name=op.f("ck_traders_starting_balance_nonneg"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traders")),
        sa.UniqueConstraint("display_name", name=op.f("uq_traders_display_name")),
        sa.UniqueConstraint("wallet_address", name=op.f("uq_traders_wallet_address")),
    )
    op.create_table(
        "trading_pairs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("base_asset", sa.String(length=32), nullable=False),
        sa.Column("quote_asset", sa.String(length=32), nullable=False),
        sa.Column("dex_protocol", sa.String(length=32), nullable=False),
        sa.Column("min_trade_size", _decimal(38, 18), nullable=False),
        sa.Column("tick_size", _decimal(38, 18), nullable=False),
        sa.Column("fee_rate", _decimal(38, 18), nullable=False),
        sa.Column("fee_structure", _JSON, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "CAST(fee_rate AS NUMERIC) >= 0 AND CAST(fee_rate AS NUMERIC) <= 1",
            name=op.f("ck_trading_pairs_fee_rate_range"),
        ),
        sa.CheckConstraint(
            "CAST(min_trade_size AS NUMERIC) > 0",
            name=op.f("ck_trading_pairs_min_trade_size_positive"),
        ),
        sa.CheckConstraint(
            "CAST(tick_size AS NUMERIC) > 0", name=op.f("ck_trading_pairs_tick_size_positive")
        ),
        sa.CheckConstraint(
            "base_asset <> quote_asset", name=op.f("ck_trading_pairs_distinct_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_pairs")),
        sa.UniqueConstraint(
            "base_asset",
            "quote_asset",
            "dex_protocol",
            name=op.f("uq_trading_pairs_base_asset_quote_asset_dex_protocol"),
        ),
    )
    op.create_table(
        "users",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("wallet_address", sa.String(length=80), nullable=True),
        sa.Column("display_name", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_active_at", _TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verification_level", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'closed')", name=op.f("ck_users_status")
        ),
        sa.CheckConstraint(
            "verification_level BETWEEN 0 AND 3", name=op.f("ck_users_verification_level")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("wallet_address", name=op.f("uq_users_wallet_address")),
    )
    op.create_table(
        "community_interactions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("interaction_type", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "interaction_type <> 'comment' OR (content IS NOT NULL AND length(content) BETWEEN 1 AND 1000)",
            name=op.f("ck_community_interactions_comment_content"),
        ),
        sa.CheckConstraint(
            "interaction_type IN ('like', 'comment', 'share')",
            name=op.f("ck_community_interactions_interaction_type"),
        ),
        sa.CheckConstraint(
            "target_type IN ('trader', 'comment', 'post')",
            name=op.f("ck_community_interactions_target_type"),
        ),
        sa.CheckConstraint(
            "content IS NULL OR length(content) <= 1000",
            name=op.f("ck_community_interactions_content_length"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_community_interactions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_interactions")),
    )
    op.create_index(
        "ix_community_interactions_target",
        "community_interactions",
        ["target_type", "target_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_community_interactions_user_id"),
        "community_interactions",
        ["user_id"],
        unique=False,
    )
    op.create_index(
        "uq_community_interactions_like",
        "community_interactions",
        ["user_id", "target_type", "target_id"],
        unique=True,
        postgresql_where=sa.text("interaction_type = 'like'"),
        sqlite_where=sa.text("interaction_type = 'like'"),
    )
    op.create_table(
        "follow_relationships",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("follower_id", _ID, nullable=False),
        sa.Column("trader_id", _ID, nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("paused_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("auto_copy_enabled", sa.Boolean(), nullable=False),
        sa.Column("copy_percentage", _decimal(7, 4), nullable=False),
        sa.Column("sizing_mode", sa.String(length=16), nullable=False),
        sa.Column("fixed_quote_amount", _decimal(38, 18), nullable=True),
        sa.Column("copy_side", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "copy_side IN ('all', 'entries_only', 'exits_only')",
            name=op.f("ck_follow_relationships_copy_side"),
        ),
        sa.CheckConstraint(
            "sizing_mode <> 'fixed_quote' OR fixed_quote_amount IS NOT NULL",
            name=op.f("ck_follow_relationships_fixed_quote_required"),
        ),
        sa.CheckConstraint(
            "sizing_mode IN ('copy_pct', 'fixed_quote', 'equity_ratio')",
            name=op.f("ck_follow_relationships_sizing_mode"),
        ),
        sa.CheckConstraint(
            "status <> 'ended' OR ended_at IS NOT NULL",
            name=op.f("ck_follow_relationships_ended_has_time"),
        ),
        sa.CheckConstraint(
            "status <> 'paused' OR paused_at IS NOT NULL",
            name=op.f("ck_follow_relationships_paused_has_time"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'ended')", name=op.f("ck_follow_relationships_status")
        ),
        sa.CheckConstraint(
            "CAST(copy_percentage AS NUMERIC) > 0 AND CAST(copy_percentage AS NUMERIC) <= 100",
            name=op.f("ck_follow_relationships_copy_percentage_range"),
        ),
        sa.CheckConstraint(
            "CAST(fixed_quote_amount AS NUMERIC) > 0",
            name=op.f("ck_follow_relationships_fixed_quote_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["follower_id"],
            ["users.id"],
            name=op.f("fk_follow_relationships_follower_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trader_id"],
            ["traders.id"],
            name=op.f("fk_follow_relationships_trader_id_traders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_relationships")),
    )
    op.create_index(
        op.f("ix_follow_relationships_follower_id"),
        "follow_relationships",
        ["follower_id"],
        unique=False,
    )
    op.create_index(
        "ix_follow_relationships_trader_active",
        "follow_relationships",
        ["trader_id"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
        postgresql_include=["follower_id", "copy_percentage", "auto_copy_enabled"],
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "uq_follow_relationships_live",
        "follow_relationships",
        ["follower_id", "trader_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'ended'"),
        sqlite_where=sa.text("status <> 'ended'"),
    )
    op.create_table(
        "leaderboards",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("trader_id", _ID, nullable=False),
        sa.Column("score", _decimal(20, 8), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "metric IN ('return_pct', 'sharpe', 'pnl', 'win_rate', 'max_drawdown')",
            name=op.f("ck_leaderboards_metric"),
        ),
        sa.CheckConstraint(
            "period IN ('daily', 'weekly', 'monthly', 'all_time')",
            name=op.f("ck_leaderboards_period"),
        ),
        sa.CheckConstraint("rank >= 1", name=op.f("ck_leaderboards_rank_positive")),
        sa.ForeignKeyConstraint(
            ["trader_id"],
            ["traders.id"],
            name=op.f("fk_leaderboards_trader_id_traders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leaderboards")),
        sa.UniqueConstraint(
            "period", "metric", "rank", name=op.f("uq_leaderboards_period_metric_rank")
        ),
        sa.UniqueConstraint(
            "period", "metric", "trader_id", name=op.f("uq_leaderboards_period_metric_trader_id")
        ),
    )
    op.create_index(op.f("ix_leaderboards_trader_id"), "leaderboards", ["trader_id"], unique=False)
    op.create_table(
        "market_data",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("pair_id", _ID, nullable=False),
        sa.Column("timeframe", sa.String(length=4), nullable=False),
        sa.Column("bucket_at", _TS, nullable=False),
        sa.Column("open", _decimal(38, 18), nullable=False),
        sa.Column("high", _decimal(38, 18), nullable=False),
        sa.Column("low", _decimal(38, 18), nullable=False),
        sa.Column("close", _decimal(38, 18), nullable=False),
        sa.Column("volume", _decimal(38, 18), nullable=False),
        sa.Column("vwap", _decimal(38, 18), nullable=True),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "timeframe IN ('1m', '5m', '1h', '1d')", name=op.f("ck_market_data_timeframe")
        ),
        sa.CheckConstraint(
            "CAST(high AS NUMERIC) >= CAST(low AS NUMERIC)", name=op.f("ck_market_data_high_ge_low")
        ),
        sa.CheckConstraint(
            "CAST(open AS NUMERIC) > 0 AND CAST(high AS NUMERIC) > 0 AND CAST(low AS NUMERIC) > 0 AND CAST(close AS NUMERIC) > 0",
            name=op.f("ck_market_data_prices_positive"),
        ),
        sa.CheckConstraint(
            "CAST(open AS NUMERIC) BETWEEN CAST(low AS NUMERIC) AND CAST(high AS NUMERIC) AND CAST(close AS NUMERIC) BETWEEN CAST(low AS NUMERIC) AND CAST(high AS NUMERIC)",
            name=op.f("ck_market_data_open_close_in_range"),
        ),
        sa.CheckConstraint(
            "CAST(volume AS NUMERIC) >= 0", name=op.f("ck_market_data_volume_nonneg")
        ),
        sa.CheckConstraint(
            "CAST(vwap AS NUMERIC) BETWEEN CAST(low AS NUMERIC) AND CAST(high AS NUMERIC)",
            name=op.f("ck_market_data_vwap_in_range"),
        ),
        sa.CheckConstraint("trade_count >= 0", name=op.f("ck_market_data_trade_count_nonneg")),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["trading_pairs.id"],
            name=op.f("fk_market_data_pair_id_trading_pairs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_data")),
        sa.UniqueConstraint(
            "pair_id",
            "timeframe",
            "bucket_at",
            name=op.f("uq_market_data_pair_id_timeframe_bucket_at"),
        ),
    )
    op.create_table(
        "portfolio_analytics",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("total_value", _decimal(38, 18), nullable=False),
        sa.Column("daily_return", _decimal(20, 8), nullable=True),
        sa.Column("cumulative_return", _decimal(20, 8), nullable=True),
        sa.Column("risk_score", _decimal(7, 4), nullable=True),
        sa.Column("diversification_index", _decimal(20, 8), nullable=True),
        sa.Column("following_count", sa.Integer(), nullable=False),
        sa.Column("active_positions", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "CAST(diversification_index AS NUMERIC) >= 0 AND CAST(diversification_index AS NUMERIC) <= 1",
            name=op.f("ck_portfolio_analytics_diversification_range"),
        ),
        sa.CheckConstraint(
            "CAST(risk_score AS NUMERIC) >= 0 AND CAST(risk_score AS NUMERIC) <= 100",
            name=op.f("ck_portfolio_analytics_risk_score_range"),
        ),
        sa.CheckConstraint(
            "CAST(total_value AS NUMERIC) >= 0",
            name=op.f("ck_portfolio_analytics_total_value_nonneg"),
        ),
        sa.CheckConstraint(
            "active_positions >= 0", name=op.f("ck_portfolio_analytics_active_positions_nonneg")
        ),
        sa.CheckConstraint(
            "following_count >= 0", name=op.f("ck_portfolio_analytics_following_count_nonneg")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_portfolio_analytics_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_analytics")),
        sa.UniqueConstraint(
            "user_id", "snapshot_date", name=op.f("uq_portfolio_analytics_user_id_snapshot_date")
        ),
    )
    op.create_table(
        "positions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("pair_id", _ID, nullable=True),
        sa.Column("quantity", _decimal(38, 18), nullable=False),
        sa.Column("average_cost", _decimal(38, 18), nullable=False),
        sa.Column("current_value", _decimal(38, 18), nullable=True),
        sa.Column("unrealized_pnl", _decimal(38, 18), nullable=True),
        sa.Column("realized_pnl", _decimal(38, 18), nullable=False),
        sa.Column("last_updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "CAST(average_cost AS NUMERIC) >= 0", name=op.f("ck_positions_average_cost_nonneg")
        ),
        sa.CheckConstraint(
            "CAST(quantity AS NUMERIC) >= 0", name=op.f("ck_positions_quantity_nonneg")
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["trading_pairs.id"],
            name=op.f("fk_positions_pair_id_trading_pairs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_positions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("user_id", "asset", name=op.f("uq_positions_user_id_asset")),
    )
    op.create_index(op.f("ix_positions_pair_id"), "positions", ["pair_id"], unique=False)
    op.create_table(
        "trader_performance",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("trader_id", _ID, nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_start_at", _TS, nullable=False),
        sa.Column("total_return", _decimal(38, 18), nullable=True),
        sa.Column("percentage_return", _decimal(20, 8), nullable=True),
        sa.Column("win_rate", _decimal(7, 4), nullable=True),
        sa.Column("max_drawdown", _decimal(20, 8), nullable=True),
        sa.Column("sharpe_ratio", _decimal(20, 8), nullable=True),
        sa.Column("sortino_ratio", _decimal(20, 8), nullable=True),
        sa.Column("calmar_ratio", _decimal(20, 8), nullable=True),
        sa.Column("volatility", _decimal(20, 8), nullable=True),
        sa.Column("num_trades", sa.Integer(), nullable=False),
        sa.Column("avg_trade_size", _decimal(38, 18), nullable=True),
        sa.Column("computed_at", _TS, nullable=False),
        sa.CheckConstraint(
            "period IN ('daily', 'weekly', 'monthly', 'all_time')",
            name=op.f("ck_trader_performance_period"),
        ),
        sa.CheckConstraint(
            "CAST(max_drawdown AS NUMERIC) >= 0",
            name=op.f("ck_trader_performance_max_drawdown_nonneg"),
        ),
        sa.CheckConstraint(
            "CAST(volatility AS NUMERIC) >= 0", name=op.f("ck_trader_performance_volatility_nonneg")
        ),
        sa.CheckConstraint(
            "CAST(win_rate AS NUMERIC) >= 0 AND CAST(win_rate AS NUMERIC) <= 100",
            name=op.f("ck_trader_performance_win_rate_range"),
        ),
        sa.CheckConstraint("num_trades >= 0", name=op.f("ck_trader_performance_num_trades_nonneg")),
        sa.ForeignKeyConstraint(
            ["trader_id"],
            ["traders.id"],
            name=op.f("fk_trader_performance_trader_id_traders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trader_performance")),
        sa.UniqueConstraint(
            "trader_id",
            "period",
            "period_start_at",
            name=op.f("uq_trader_performance_trader_id_period_period_start_at"),
        ),
    )
    op.create_table(
        "trades",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("trader_id", _ID, nullable=True),
        sa.Column("pair_id", _ID, nullable=False),
        sa.Column("copy_of_trade_id", _ID, nullable=True),
        sa.Column("trade_type", sa.String(length=8), nullable=False),
        sa.Column("amount", _decimal(38, 18), nullable=False),
        sa.Column("price", _decimal(38, 18), nullable=True),
        sa.Column("total_value", _decimal(38, 18), nullable=True),
        sa.Column("fees_paid", _decimal(38, 18), nullable=False),
        sa.Column("realized_pnl", _decimal(38, 18), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("tx_hash", sa.String(length=80), nullable=True),
        sa.Column("chain_version", sa.BigInteger(), nullable=True),
        sa.Column("executed_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "(kind = 'lead' AND user_id IS NULL) OR (kind <> 'lead' AND user_id IS NOT NULL)",
            name=op.f("ck_trades_lead_has_no_user"),
        ),
        sa.CheckConstraint(
            "(price IS NULL OR CAST(price AS NUMERIC) > 0) AND (status = 'skipped' OR price IS NOT NULL)",
            name=op.f("ck_trades_price_positive"),
        ),
        sa.CheckConstraint(
            "(status = 'skipped') = (skip_reason IS NOT NULL)",
            name=op.f("ck_trades_skip_reason_iff_skipped"),
        ),
        sa.CheckConstraint(
            "CAST(amount AS NUMERIC) >= 0 AND (CAST(amount AS NUMERIC) > 0 OR status = 'skipped')",
            name=op.f("ck_trades_amount_positive"),
        ),
        sa.CheckConstraint(
            "kind <> 'copy' OR copy_of_trade_id IS NOT NULL",
            name=op.f("ck_trades_copy_has_lead_trade"),
        ),
        sa.CheckConstraint(
            "kind IN ('lead', 'copy', 'manual', 'stop_loss')", name=op.f("ck_trades_kind")
        ),
        sa.CheckConstraint(
            "kind NOT IN ('lead', 'copy') OR trader_id IS NOT NULL",
            name=op.f("ck_trades_trader_required"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'submitted', 'completed', 'failed', 'skipped')",
            name=op.f("ck_trades_status"),
        ),
        sa.CheckConstraint("trade_type IN ('buy', 'sell')", name=op.f("ck_trades_trade_type")),
        sa.CheckConstraint("CAST(fees_paid AS NUMERIC) >= 0", name=op.f("ck_trades_fees_nonneg")),
        sa.ForeignKeyConstraint(
            ["copy_of_trade_id"],
            ["trades.id"],
            name=op.f("fk_trades_copy_of_trade_id_trades"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["trading_pairs.id"],
            name=op.f("fk_trades_pair_id_trading_pairs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["trader_id"],
            ["traders.id"],
            name=op.f("fk_trades_trader_id_traders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_trades_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_trades_tx_hash")),
        sa.UniqueConstraint(
            "user_id", "copy_of_trade_id", name=op.f("uq_trades_user_id_copy_of_trade_id")
        ),
    )
    op.create_index(
        op.f("ix_trades_copy_of_trade_id"), "trades", ["copy_of_trade_id"], unique=False
    )
    op.create_index(op.f("ix_trades_executed_at"), "trades", ["executed_at"], unique=False)
    op.create_index(op.f("ix_trades_pair_id"), "trades", ["pair_id"], unique=False)
    op.create_index(
        "ix_trades_trader_executed",
        "trades",
        ["trader_id", sa.literal_column("executed_at DESC")],
        unique=False,
    )
    op.create_index(
        "ix_trades_unfinished",
        "trades",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'submitted')"),
        sqlite_where=sa.text("status IN ('pending', 'submitted')"),
    )
    op.create_index(
        "ix_trades_user_executed",
        "trades",
        ["user_id", sa.literal_column("executed_at DESC")],
        unique=False,
        postgresql_include=["pair_id", "trade_type", "amount", "price", "status"],
    )
    op.create_table(
        "user_preferences",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("max_trade_amount", _decimal(38, 18), nullable=True),
        sa.Column("daily_trading_limit", _decimal(38, 18), nullable=True),
        sa.Column("stop_loss_pct", _decimal(7, 4), nullable=True),
        sa.Column("risk_tolerance", sa.String(length=16), nullable=False),
        sa.Column("allowed_assets", _JSON, nullable=True),
        sa.Column("auto_follow", _JSON, nullable=True),
        sa.Column("max_slippage_pct", _decimal(7, 4), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "risk_tolerance IN ('low', 'medium', 'high')",
            name=op.f("ck_user_preferences_risk_tolerance"),
        ),
        sa.CheckConstraint(
            "CAST(daily_trading_limit AS NUMERIC) > 0",
            name=op.f("ck_user_preferences_daily_limit_positive"),
        ),
        sa.CheckConstraint(
            "CAST(max_slippage_pct AS NUMERIC) >= 0 AND CAST(max_slippage_pct AS NUMERIC) <= 100",
            name=op.f("ck_user_preferences_max_slippage_pct_range"),
        ),
        sa.CheckConstraint(
            "CAST(max_trade_amount AS NUMERIC) > 0",
            name=op.f("ck_user_preferences_max_trade_amount_positive"),
        ),
        sa.CheckConstraint(
            "CAST(stop_loss_pct AS NUMERIC) >= 0 AND CAST(stop_loss_pct AS NUMERIC) <= 100",
            name=op.f("ck_user_preferences_stop_loss_pct_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_preferences")),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("last_activity_at", _TS, nullable=True),
        sa.Column("ip_address", sa.Text(), nullable=True),
        sa.Column("device_info", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_user_sessions_expires_after_created")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    op.create_index(
        op.f("ix_user_sessions_expires_at"), "user_sessions", ["expires_at"], unique=False
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.create_table(
        "wallets",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("address", sa.String(length=80), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("public_key", sa.String(length=130), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wallets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("address", name=op.f("uq_wallets_address")),
    )
    op.create_index(op.f("ix_wallets_user_id"), "wallets", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_wallets_user_id"), table_name="wallets")
    op.drop_table("wallets")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_index(op.f("ix_user_sessions_expires_at"), table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("user_preferences")
    op.drop_index(
        "ix_trades_user_executed",
        table_name="trades",
        postgresql_include=["pair_id", "trade_type", "amount", "price", "status"],
    )
    op.drop_index(
        "ix_trades_unfinished",
        table_name="trades",
        postgresql_where=sa.text("status IN ('pending', 'submitted')"),
        sqlite_where=sa.text("status IN ('pending', 'submitted')"),
    )
    op.drop_index("ix_trades_trader_executed", table_name="trades")
    op.drop_index(op.f("ix_trades_pair_id"), table_name="trades")
    op.drop_index(op.f("ix_trades_executed_at"), table_name="trades")
    op.drop_index(op.f("ix_trades_copy_of_trade_id"), table_name="trades")
    op.drop_table("trades")
    op.drop_table("trader_performance")
    op.drop_index(op.f("ix_positions_pair_id"), table_name="positions")
    op.drop_table("positions")
    op.drop_table("portfolio_analytics")
    op.drop_table("market_data")
    op.drop_index(op.f("ix_leaderboards_trader_id"), table_name="leaderboards")
    op.drop_table("leaderboards")
    op.drop_index(
        "uq_follow_relationships_live",
        table_name="follow_relationships",
        postgresql_where=sa.text("status <> 'ended'"),
        sqlite_where=sa.text("status <> 'ended'"),
    )
    op.drop_index(
        "ix_follow_relationships_trader_active",
        table_name="follow_relationships",
        postgresql_where=sa.text("status = 'active'"),
        postgresql_include=["follower_id", "copy_percentage", "auto_copy_enabled"],
        sqlite_where=sa.text("status = 'active'"),
    )
    op.drop_index(op.f("ix_follow_relationships_follower_id"), table_name="follow_relationships")
    op.drop_table("follow_relationships")
    op.drop_index(
        "uq_community_interactions_like",
        table_name="community_interactions",
        postgresql_where=sa.text("interaction_type = 'like'"),
        sqlite_where=sa.text("interaction_type = 'like'"),
    )
    op.drop_index(op.f("ix_community_interactions_user_id"), table_name="community_interactions")
    op.drop_index("ix_community_interactions_target", table_name="community_interactions")
    op.drop_table("community_interactions")
    op.drop_table("users")
    op.drop_table("trading_pairs")
    op.drop_table("traders")
    op.drop_index("ix_metric_points_series_time", table_name="metric_points")
    op.drop_table("metric_points")
    op.drop_table("chain_cursors")
    op.drop_index(op.f("ix_audit_log_occurred_at"), table_name="audit_log")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_table("audit_log")

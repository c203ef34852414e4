"""The relational schema: one declarative model per table, portable across SQLite and PostgreSQL.

Every constraint and index has a stable name (naming convention below, or explicit), because
the repositories turn a violated constraint into a precise error by its name. Enum-like columns
are TEXT with a CHECK (cheap to extend in a migration, identical on both backends). Decimal
CHECKs go through `num()` since decimals are TEXT on SQLite.

ON DELETE policy: rows that only describe their parent (preferences, sessions, positions,
analytics, candles, wallets, interactions, performance, leaderboard rows) CASCADE with it.
Rows that are financial history or that another party relies on (a trade's pair, a follow's
trader, a lead trade that copies point to) RESTRICT, so history is never silently lost.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from oneclick_tui.domain import entities as e
from oneclick_tui.stores.types import (
    Amount,
    IdType,
    JsonType,
    Pct,
    Price,
    Ratio,
    UTCDateTime,
    between,
    in_list,
    num,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here maps one plain Table; say so, so `Model.__table__.insert()` type-checks.
    __table__: ClassVar[Table]


def _id() -> Mapped[int]:
    return mapped_column(IdType, primary_key=True, autoincrement=True)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    default = None if nullable else utcnow
    return mapped_column(UTCDateTime(), nullable=nullable, default=default, index=index)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_list("status", e.USER_STATUSES), name="status"),
        CheckConstraint("verification_level BETWEEN 0 AND 3", name="verification_level"),
    )

    id: Mapped[int] = _id()
    wallet_address: Mapped[str | None] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    last_active_at: Mapped[datetime | None] = _ts(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    verification_level: Mapped[int] = mapped_column(Integer, default=0)


class UserPreferences(Base):
    __tablename__ = "user_preferences"
    __table_args__ = (
        CheckConstraint(f"{num('max_trade_amount')} > 0", name="max_trade_amount_positive"),
        CheckConstraint(f"{num('daily_trading_limit')} > 0", name="daily_limit_positive"),
        CheckConstraint(between("stop_loss_pct", "0", "100"), name="stop_loss_pct_range"),
        CheckConstraint(in_list("risk_tolerance", e.RISK_TOLERANCES), name="risk_tolerance"),
        CheckConstraint(between("max_slippage_pct", "0", "100"), name="max_slippage_pct_range"),
    )

    # One row per user, removed with the user.
    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    max_trade_amount: Mapped[Decimal | None] = mapped_column(Amount())
    daily_trading_limit: Mapped[Decimal | None] = mapped_column(Amount())
    stop_loss_pct: Mapped[Decimal | None] = mapped_column(Pct())
    risk_tolerance: Mapped[str] = mapped_column(String(16), default="medium")
    allowed_assets: Mapped[list[str] | None] = mapped_column(JsonType)
    auto_follow: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    max_slippage_pct: Mapped[Decimal] = mapped_column(Pct(), default=Decimal("1"))
    updated_at: Mapped[datetime] = _ts()


class UserSession(Base):
    __tablename__ = "user_sessions"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # A session means nothing without its user.
    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_activity_at: Mapped[datetime | None] = _ts(nullable=True)
    ip_address: Mapped[str | None] = mapped_column(Text)  # encrypted by the app later
    device_info: Mapped[str | None] = mapped_column(Text)  # encrypted by the app later


class Trader(Base):
    __tablename__ = "traders"
    __table_args__ = (
        CheckConstraint(
            in_list("verification_status", e.TRADER_VERIFICATION), name="verification_status"
        ),
        CheckConstraint(in_list("risk_category", e.RISK_CATEGORIES), name="risk_category"),
        CheckConstraint(f"{num('starting_balance')} >= 0", name="starting_balance_nonneg"),
    )

    id: Mapped[int] = _id()
    wallet_address: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), unique=True)
    registered_at: Mapped[datetime] = _ts()
    verification_status: Mapped[str] = mapped_column(String(16), default="unverified")
    performance_rating: Mapped[Decimal | None] = mapped_column(Ratio())
    risk_category: Mapped[str] = mapped_column(String(16), default="medium")
    style: Mapped[str | None] = mapped_column(Text)
    starting_balance: Mapped[Decimal | None] = mapped_column(Amount())
    is_simulated: Mapped[bool] = mapped_column(Boolean, default=False)


class TradingPair(Base):
    __tablename__ = "trading_pairs"
    __table_args__ = (
        UniqueConstraint("base_asset", "quote_asset", "dex_protocol"),
        CheckConstraint(f"{num('min_trade_size')} > 0", name="min_trade_size_positive"),
        CheckConstraint(f"{num('tick_size')} > 0", name="tick_size_positive"),
        CheckConstraint(between("fee_rate", "0", "1"), name="fee_rate_range"),
        CheckConstraint("base_asset <> quote_asset", name="distinct_assets"),
    )

    id: Mapped[int] = _id()
    base_asset: Mapped[str] = mapped_column(String(32))
    quote_asset: Mapped[str] = mapped_column(String(32))
    dex_protocol: Mapped[str] = mapped_column(String(32))
    min_trade_size: Mapped[Decimal] = mapped_column(Amount())
    tick_size: Mapped[Decimal] = mapped_column(Price())
    fee_rate: Mapped[Decimal] = mapped_column(Price(), default=Decimal("0.003"))
    fee_structure: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Trade(Base):
    __tablename__ = "trades"
    __table_args__ = (
        # The copy engine's exactly-once key: one copy (or skip) per follower per lead trade.
        # created_at is in it because PostgreSQL partitions trades by it (a unique key must
        # hold the partition key); a copy/skip row always carries its lead trade's created_at
        # (database triggers, migration 0005), so this is as strong as (user, lead trade).
        UniqueConstraint(
            "user_id", "copy_of_trade_id", "created_at", name="uq_trades_user_id_copy_of_trade_id"
        ),
        # A lead's created_at is its chain time; a hash seen at another time is refused by a
        # trigger (migration 0005), so this is as strong as a unique tx_hash.
        UniqueConstraint("tx_hash", "created_at", name="uq_trades_tx_hash"),
        CheckConstraint(in_list("kind", e.TRADE_KINDS), name="kind"),
        CheckConstraint(in_list("trade_type", e.TRADE_TYPES), name="trade_type"),
        CheckConstraint(in_list("status", e.TRADE_STATUSES), name="status"),
        CheckConstraint(
            "(kind = 'lead' AND user_id IS NULL) OR (kind <> 'lead' AND user_id IS NOT NULL)",
            name="lead_has_no_user",
        ),
        CheckConstraint(
            "kind <> 'copy' OR copy_of_trade_id IS NOT NULL", name="copy_has_lead_trade"
        ),
        CheckConstraint(
            f"{num('amount')} >= 0 AND ({num('amount')} > 0 OR status = 'skipped')",
            name="amount_positive",
        ),
        CheckConstraint(
            f"(price IS NULL OR {num('price')} > 0) AND (status = 'skipped' OR price IS NOT NULL)",
            name="price_positive",
        ),
        CheckConstraint(
            "kind NOT IN ('lead', 'copy') OR trader_id IS NOT NULL", name="trader_required"
        ),
        CheckConstraint(f"{num('fees_paid')} >= 0", name="fees_nonneg"),
        CheckConstraint(
            "(status = 'skipped') = (skip_reason IS NOT NULL)", name="skip_reason_iff_skipped"
        ),
    )

    id: Mapped[int] = _id()
    kind: Mapped[str] = mapped_column(String(16))
    # A user's trades are his financial history: deleting a user with trades is refused.
    user_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id", ondelete="RESTRICT"))
    # A trader's trades (and copies of them) are history: RESTRICT.
    trader_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("traders.id", ondelete="RESTRICT")
    )
    # A pair that has trades cannot be deleted; deactivate it instead.
    pair_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("trading_pairs.id", ondelete="RESTRICT"), index=True
    )
    # The lead trade a copy or skip belongs to; copies keep it alive (RESTRICT). Enforced by
    # triggers, not a foreign key: on PostgreSQL trades is partitioned and its key is
    # (id, created_at) (migration 0005 has the triggers for both backends).
    copy_of_trade_id: Mapped[int | None] = mapped_column(IdType, index=True)
    trade_type: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Amount())
    price: Mapped[Decimal | None] = mapped_column(Price())
    total_value: Mapped[Decimal | None] = mapped_column(Amount())
    fees_paid: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    realized_pnl: Mapped[Decimal | None] = mapped_column(Amount())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    skip_reason: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(String(80))
    chain_version: Mapped[int | None] = mapped_column(BigInteger)
    executed_at: Mapped[datetime | None] = _ts(nullable=True, index=True)
    # The partition key on PostgreSQL (monthly); for a copy or skip, its lead trade's time.
    created_at: Mapped[datetime] = _ts()


# A user's recent trades; covering the columns the trades table view shows.
Index(
    "ix_trades_user_executed",
    Trade.user_id,
    Trade.executed_at.desc(),
    postgresql_include=["pair_id", "trade_type", "amount", "price", "status"],
)
# The copy engine's work queue: only unfinished trades are indexed.
Index(
    "ix_trades_unfinished",
    Trade.created_at,
    postgresql_where=text("status IN ('pending', 'submitted')"),
    sqlite_where=text("status IN ('pending', 'submitted')"),
)
Index("ix_trades_trader_executed", Trade.trader_id, Trade.executed_at.desc())
# Analytics replay each lead trader's book in order: this covering index hands the window
# functions their rows already sorted (no 1M-row sort); see migration 0002.
Index(
    "ix_trades_lead_book",
    Trade.trader_id,
    Trade.pair_id,
    Trade.executed_at,
    Trade.id,
    postgresql_include=["trade_type", "amount", "price", "fees_paid", "total_value"],
    postgresql_where=text("kind = 'lead' AND status = 'completed'"),
    sqlite_where=text("kind = 'lead' AND status = 'completed'"),
)
# A lead's position before his sell: his trades on the pair since a chain version (0009).
Index(
    "ix_trades_lead_version",
    Trade.trader_id,
    Trade.pair_id,
    Trade.chain_version,
    postgresql_include=["trade_type", "amount"],
    postgresql_where=text("kind = 'lead'"),
    sqlite_where=text("kind = 'lead'"),
)


class Position(Base):
    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("user_id", "asset"),
        CheckConstraint(f"{num('quantity')} >= 0", name="quantity_nonneg"),
        CheckConstraint(f"{num('average_cost')} >= 0", name="average_cost_nonneg"),
    )

    id: Mapped[int] = _id()
    # Holdings describe the user only: CASCADE.
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    asset: Mapped[str] = mapped_column(String(32))
    # The pair used to value the asset; a removed pair leaves the holding unpriced.
    pair_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("trading_pairs.id", ondelete="SET NULL"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Amount())
    average_cost: Mapped[Decimal] = mapped_column(Price())
    current_value: Mapped[Decimal | None] = mapped_column(Amount())
    unrealized_pnl: Mapped[Decimal | None] = mapped_column(Amount())
    realized_pnl: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    last_updated_at: Mapped[datetime] = _ts()


class CopyHolding(Base):
    """How much of a pair's base asset each follower holds from copying one trader.

    A running total of his completed copies (buys minus sells, migration 0007), kept in the
    transaction that completes them. Why: a lead's sell is copied as the same fraction of
    what the follower built from that lead, and summing his whole copy history on every sell
    grew without end (and forgot what a detached partition held).
    """

    __tablename__ = "copy_holdings"

    follower_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    trader_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("traders.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    pair_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("trading_pairs.id", ondelete="CASCADE"), primary_key=True
    )
    base_built: Mapped[Decimal] = mapped_column(Amount())
    """Base units: completed copy buys minus completed copy sells (no sign check, as the
    history it stands for has none)."""
    updated_at: Mapped[datetime] = _ts()


class TraderPerformance(Base):
    __tablename__ = "trader_performance"
    __table_args__ = (
        UniqueConstraint("trader_id", "period", "period_start_at"),
        CheckConstraint(in_list("period", e.PERIODS), name="period"),
        CheckConstraint(between("win_rate", "0", "100"), name="win_rate_range"),
        CheckConstraint(f"{num('max_drawdown')} >= 0", name="max_drawdown_nonneg"),
        CheckConstraint(f"{num('volatility')} >= 0", name="volatility_nonneg"),
        CheckConstraint("num_trades >= 0", name="num_trades_nonneg"),
    )

    id: Mapped[int] = _id()
    # Derived statistics of one trader: CASCADE.
    trader_id: Mapped[int] = mapped_column(IdType, ForeignKey("traders.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    period_start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    total_return: Mapped[Decimal | None] = mapped_column(Amount())
    percentage_return: Mapped[Decimal | None] = mapped_column(Ratio())
    win_rate: Mapped[Decimal | None] = mapped_column(Pct())
    max_drawdown: Mapped[Decimal | None] = mapped_column(Ratio())
    sharpe_ratio: Mapped[Decimal | None] = mapped_column(Ratio())
    sortino_ratio: Mapped[Decimal | None] = mapped_column(Ratio())
    calmar_ratio: Mapped[Decimal | None] = mapped_column(Ratio())
    volatility: Mapped[Decimal | None] = mapped_column(Ratio())
    num_trades: Mapped[int] = mapped_column(Integer, default=0)
    avg_trade_size: Mapped[Decimal | None] = mapped_column(Amount())
    computed_at: Mapped[datetime] = _ts()


class PortfolioAnalytics(Base):
    __tablename__ = "portfolio_analytics"
    __table_args__ = (
        UniqueConstraint("user_id", "snapshot_date"),
        CheckConstraint(f"{num('total_value')} >= 0", name="total_value_nonneg"),
        CheckConstraint(between("risk_score", "0", "100"), name="risk_score_range"),
        CheckConstraint(between("diversification_index", "0", "1"), name="diversification_range"),
        CheckConstraint("following_count >= 0", name="following_count_nonneg"),
        CheckConstraint("active_positions >= 0", name="active_positions_nonneg"),
    )

    id: Mapped[int] = _id()
    # Snapshots of one user's portfolio: CASCADE.
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    snapshot_date: Mapped[date] = mapped_column(Date)
    total_value: Mapped[Decimal] = mapped_column(Amount())
    daily_return: Mapped[Decimal | None] = mapped_column(Ratio())
    cumulative_return: Mapped[Decimal | None] = mapped_column(Ratio())
    risk_score: Mapped[Decimal | None] = mapped_column(Pct())
    diversification_index: Mapped[Decimal | None] = mapped_column(Ratio())
    following_count: Mapped[int] = mapped_column(Integer, default=0)
    active_positions: Mapped[int] = mapped_column(Integer, default=0)


class MarketData(Base):
    """OHLCV candles per pair and timeframe."""

    __tablename__ = "market_data"
    __table_args__ = (
        UniqueConstraint("pair_id", "timeframe", "bucket_at"),
        CheckConstraint(in_list("timeframe", e.TIMEFRAMES), name="timeframe"),
        CheckConstraint(
            f"{num('open')} > 0 AND {num('high')} > 0 AND {num('low')} > 0 AND {num('close')} > 0",
            name="prices_positive",
        ),
        CheckConstraint(f"{num('high')} >= {num('low')}", name="high_ge_low"),
        CheckConstraint(
            f"{num('open')} BETWEEN {num('low')} AND {num('high')} "
            f"AND {num('close')} BETWEEN {num('low')} AND {num('high')}",
            name="open_close_in_range",
        ),
        CheckConstraint(f"{num('volume')} >= 0", name="volume_nonneg"),
        CheckConstraint(
            f"{num('vwap')} BETWEEN {num('low')} AND {num('high')}", name="vwap_in_range"
        ),
        CheckConstraint("trade_count >= 0", name="trade_count_nonneg"),
    )

    id: Mapped[int] = _id()
    # Candles are derived from the pair's market: CASCADE.
    pair_id: Mapped[int] = mapped_column(IdType, ForeignKey("trading_pairs.id", ondelete="CASCADE"))
    timeframe: Mapped[str] = mapped_column(String(4))
    bucket_at: Mapped[datetime] = mapped_column(UTCDateTime())
    open: Mapped[Decimal] = mapped_column(Price())
    high: Mapped[Decimal] = mapped_column(Price())
    low: Mapped[Decimal] = mapped_column(Price())
    close: Mapped[Decimal] = mapped_column(Price())
    volume: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    vwap: Mapped[Decimal | None] = mapped_column(Price())
    trade_count: Mapped[int] = mapped_column(Integer, default=0)


# The unique (pair_id, timeframe, bucket_at) constraint's index serves "a pair's candles by time".


class MetricPoint(Base):
    """Time series other than candles, for the time-series store's relational backend."""

    __tablename__ = "metric_points"
    __table_args__ = (
        # One point per series and timestamp, as InfluxDB keeps it (migration 0006).
        Index(
            "uq_metric_points_measurement_series_key_recorded_at",
            "measurement",
            "series_key",
            "recorded_at",
            unique=True,
        ),
    )

    id: Mapped[int] = _id()
    measurement: Mapped[str] = mapped_column(String(64))
    series_key: Mapped[str] = mapped_column(Text)  # canonical sorted "k=v,k=v" of the tags
    tags: Mapped[dict[str, str]] = mapped_column(JsonType)
    fields: Mapped[dict[str, str]] = mapped_column(JsonType)  # name -> decimal string
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FollowRelationship(Base):
    __tablename__ = "follow_relationships"
    __table_args__ = (
        CheckConstraint(
            f"{num('copy_percentage')} > 0 AND {num('copy_percentage')} <= 100",
            name="copy_percentage_range",
        ),
        CheckConstraint(in_list("sizing_mode", e.SIZING_MODES), name="sizing_mode"),
        CheckConstraint(in_list("copy_side", e.COPY_SIDES), name="copy_side"),
        CheckConstraint(in_list("status", e.FOLLOW_STATUSES), name="status"),
        CheckConstraint(f"{num('fixed_quote_amount')} > 0", name="fixed_quote_positive"),
        CheckConstraint(
            "sizing_mode <> 'fixed_quote' OR fixed_quote_amount IS NOT NULL",
            name="fixed_quote_required",
        ),
        CheckConstraint("status <> 'ended' OR ended_at IS NOT NULL", name="ended_has_time"),
        CheckConstraint("status <> 'paused' OR paused_at IS NOT NULL", name="paused_has_time"),
    )

    id: Mapped[int] = _id()
    # A follow is the user's own setting: CASCADE with the user.
    follower_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # A trader with followers cannot vanish under them: RESTRICT (end the follows first).
    trader_id: Mapped[int] = mapped_column(IdType, ForeignKey("traders.id", ondelete="RESTRICT"))
    started_at: Mapped[datetime] = _ts()
    paused_at: Mapped[datetime | None] = _ts(nullable=True)
    ended_at: Mapped[datetime | None] = _ts(nullable=True)
    auto_copy_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    copy_percentage: Mapped[Decimal] = mapped_column(Pct())
    sizing_mode: Mapped[str] = mapped_column(String(16), default="copy_pct")
    fixed_quote_amount: Mapped[Decimal | None] = mapped_column(Amount())
    copy_side: Mapped[str] = mapped_column(String(16), default="all")
    status: Mapped[str] = mapped_column(String(8), default="active")


# At most one live (active or paused) follow per follower and trader; ended ones are history.
Index(
    "uq_follow_relationships_live",
    FollowRelationship.follower_id,
    FollowRelationship.trader_id,
    unique=True,
    postgresql_where=text("status <> 'ended'"),
    sqlite_where=text("status <> 'ended'"),
)
# The copy engine's fan-out: active follows of a trader.
Index(
    "ix_follow_relationships_trader_active",
    FollowRelationship.trader_id,
    postgresql_where=text("status = 'active'"),
    sqlite_where=text("status = 'active'"),
    postgresql_include=["follower_id", "copy_percentage", "auto_copy_enabled"],
)


class Leaderboard(Base):
    __tablename__ = "leaderboards"
    __table_args__ = (
        UniqueConstraint("period", "metric", "trader_id"),
        UniqueConstraint("period", "metric", "rank"),
        CheckConstraint(in_list("period", e.PERIODS), name="period"),
        CheckConstraint(in_list("metric", e.LEADERBOARD_METRICS), name="metric"),
        CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[int] = _id()
    period: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    # A cached ranking row of one trader: CASCADE.
    trader_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("traders.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[Decimal] = mapped_column(Ratio())
    updated_at: Mapped[datetime] = _ts()
    # `rank` is the unique position (ties broken by trader id); `competition_rank` is the
    # shared rank of a tie ("1224") users see; `previous_rank` the one before (NULL = new).
    competition_rank: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    previous_rank: Mapped[int | None] = mapped_column(Integer)


class CommunityInteraction(Base):
    __tablename__ = "community_interactions"
    __table_args__ = (
        CheckConstraint(in_list("target_type", e.TARGET_TYPES), name="target_type"),
        CheckConstraint(in_list("interaction_type", e.INTERACTION_TYPES), name="interaction_type"),
        CheckConstraint(
            "interaction_type <> 'comment' OR "
            "(content IS NOT NULL AND length(content) BETWEEN 1 AND 1000)",
            name="comment_content",
        ),
        CheckConstraint("content IS NULL OR length(content) <= 1000", name="content_length"),
    )

    id: Mapped[int] = _id()
    # A user's own likes and comments go with the user: CASCADE.
    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(BigInteger)
    interaction_type: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()


Index(
    "ix_community_interactions_target",
    CommunityInteraction.target_type,
    CommunityInteraction.target_id,
    CommunityInteraction.created_at,
)
# A user likes a target at most once.
Index(
    "uq_community_interactions_like",
    CommunityInteraction.user_id,
    CommunityInteraction.target_type,
    CommunityInteraction.target_id,
    unique=True,
    postgresql_where=text("interaction_type = 'like'"),
    sqlite_where=text("interaction_type = 'like'"),
)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id", "occurred_at"),)

    id: Mapped[int] = _id()
    occurred_at: Mapped[datetime] = _ts(index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a user id, 'engine' or 'system'
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    prev_hash: Mapped[str | None] = mapped_column(String(128))
    row_hash: Mapped[str | None] = mapped_column(String(128))


class Wallet(Base):
    """A user's wallet address and public key. The private key never reaches the database."""

    __tablename__ = "wallets"

    id: Mapped[int] = _id()
    # A wallet record belongs to its user: CASCADE.
    user_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(80), unique=True)
    label: Mapped[str | None] = mapped_column(String(64))
    public_key: Mapped[str | None] = mapped_column(String(130))
    created_at: Mapped[datetime] = _ts()


class ChainCursor(Base):
    """Where the Aptos read side resumes polling after a restart."""

    __tablename__ = "chain_cursors"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = _ts()


class ExecutionJournal(Base):
    """Every signed transaction of a copy, committed BEFORE it is submitted (migration 0004).

    Why: exactly-once with the chain. After a crash the engine finds here what it may have
    sent — the same bytes to resubmit or the hash to look up — and never signs a second
    transaction for a copy while the first could still land. The signed bytes, never the key.
    No foreign key to `trades`: on PostgreSQL `trades` is partitioned and its primary key is
    (id, created_at), which a key on `trade_id` alone cannot reference; the engine writes the
    journal row and the copy's status change in one transaction instead.
    """

    __tablename__ = "execution_journal"
    __table_args__ = (
        CheckConstraint(
            in_list("status", ("signed", "committed", "aborted", "refused", "expired")),
            name="status",
        ),
        Index("ix_execution_journal_sender_seq", "sender", "sequence_number"),
        Index(
            "ix_execution_journal_open",
            "trade_id",
            postgresql_where=text("status = 'signed'"),
            sqlite_where=text("status = 'signed'"),
        ),
    )

    id: Mapped[int] = _id()
    trade_id: Mapped[int] = mapped_column(IdType, unique=True)
    chain_id: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(66))
    sequence_number: Mapped[int] = mapped_column(BigInteger)
    expiration_timestamp_secs: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    signed_bcs: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    vm_status: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()

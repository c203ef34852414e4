"""What the repositories hand back: frozen snapshots of rows, free of any ORM session.

The allowed values of enum-like columns live here too, so the schema's CHECKs, the
repositories' validation and the services all agree on one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

USER_STATUSES = ("active", "suspended", "closed")
VERIFICATION_LEVELS = (0, 1, 2, 3)  # 0 none, 1 email, 2 identity, 3 full KYC
RISK_TOLERANCES = ("low", "medium", "high")
RISK_CATEGORIES = ("low", "medium", "high", "extreme")
TRADER_VERIFICATION = ("unverified", "pending", "verified")
TRADE_KINDS = ("lead", "copy", "manual", "stop_loss")
TRADE_TYPES = ("buy", "sell")
TRADE_STATUSES = ("pending", "submitted", "completed", "failed", "skipped")
PERIODS = ("daily", "weekly", "monthly", "all_time")
TIMEFRAMES = ("1m", "5m", "1h", "1d")
SIZING_MODES = ("copy_pct", "fixed_quote", "equity_ratio")
COPY_SIDES = ("all", "entries_only", "exits_only")
FOLLOW_STATUSES = ("active", "paused", "ended")
LEADERBOARD_METRICS = ("return_pct", "sharpe", "pnl", "win_rate", "max_drawdown")
TARGET_TYPES = ("trader", "comment", "post")
INTERACTION_TYPES = ("like", "comment", "share")


@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's risk limits; None means "no limit" / "all assets" / "off"."""

    user_id: int
    max_trade_amount: Decimal | None
    daily_trading_limit: Decimal | None
    stop_loss_pct: Decimal | None
    risk_tolerance: str
    allowed_assets: tuple[str, ...] | None
    auto_follow: dict[str, Any] | None
    max_slippage_pct: Decimal
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: int
    wallet_address: str | None
    display_name: str | None
    created_at: datetime
    last_active_at: datetime | None
    status: str
    verification_level: int


@dataclass(frozen=True, slots=True)
class Trader:
    id: int
    wallet_address: str
    display_name: str
    registered_at: datetime
    verification_status: str
    performance_rating: Decimal | None
    risk_category: str
    style: str | None
    starting_balance: Decimal | None
    is_simulated: bool


@dataclass(frozen=True, slots=True)
class TradingPair:
    id: int
    base_asset: str
    quote_asset: str
    dex_protocol: str
    min_trade_size: Decimal
    tick_size: Decimal
    fee_rate: Decimal
    fee_structure: dict[str, Any] | None
    is_active: bool

    @property
    def symbol(self) -> str:
        return f"{self.base_asset}/{self.quote_asset}"


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    kind: str
    user_id: int | None
    trader_id: int | None
    pair_id: int
    copy_of_trade_id: int | None
    trade_type: str
    amount: Decimal
    price: Decimal | None
    total_value: Decimal | None
    fees_paid: Decimal
    realized_pnl: Decimal | None
    status: str
    skip_reason: str | None
    failure_reason: str | None
    tx_hash: str | None
    chain_version: int | None
    executed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Position:
    id: int
    user_id: int
    asset: str
    pair_id: int | None
    quantity: Decimal
    average_cost: Decimal
    current_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    last_updated_at: datetime


@dataclass(frozen=True, slots=True)
class Follow:
    id: int
    follower_id: int
    trader_id: int
    started_at: datetime
    paused_at: datetime | None
    ended_at: datetime | None
    auto_copy_enabled: bool
    copy_percentage: Decimal
    sizing_mode: str
    fixed_quote_amount: Decimal | None
    copy_side: str
    status: str

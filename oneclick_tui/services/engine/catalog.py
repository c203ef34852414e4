"""What the engine knows about pairs and traders, loaded once and kept in memory.

Lead trades name a pair by symbol and a trader by address; the engine needs their database
ids and rules on every trade, so they are looked up here, not queried per trade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain.copy_rules import PairRules
from oneclick_tui.domain.market_events import PairSpec
from oneclick_tui.stores.models import Trader, TradingPair


@dataclass(frozen=True)
class PairInfo:
    id: int
    spec: PairSpec

    @property
    def rules(self) -> PairRules:
        s = self.spec
        return PairRules(s.base, s.quote, s.min_size, s.lot_size, s.taker_fee)


@dataclass(frozen=True)
class TraderInfo:
    id: int
    address: str
    display_name: str
    risk_category: str
    starting_balance: Decimal | None


@dataclass(frozen=True)
class TraderProfile:
    """What the simulator (or the chain watcher) tells us about a lead trader."""

    address: str
    display_name: str
    risk_category: str
    style: str
    starting_balance: Decimal


class Catalog:
    """Pairs by symbol and traders by address, with their database ids."""

    def __init__(self, pairs: dict[str, PairInfo], traders: dict[str, TraderInfo]) -> None:
        self.pairs = pairs
        self.traders = traders

    def trader_by_id(self, trader_id: int) -> TraderInfo | None:
        return next((t for t in self.traders.values() if t.id == trader_id), None)


async def seed_catalog(
    sessions: async_sessionmaker[AsyncSession],
    pairs: Iterable[PairSpec],
    profiles: Iterable[TraderProfile],
    simulated: bool,
) -> Catalog:
    """Insert the pairs and traders that are missing (idempotent) and load them all."""
    specs = {p.symbol: p for p in pairs}
    async with sessions.begin() as session:
        pair_ids = {s: await _ensure_pair(session, spec) for s, spec in specs.items()}
        traders = {p.address: await _ensure_trader(session, p, simulated) for p in profiles}
    return Catalog({s: PairInfo(pair_ids[s], spec) for s, spec in specs.items()}, traders)


async def _ensure_pair(session: AsyncSession, spec: PairSpec) -> int:
    found = await session.scalar(
        select(TradingPair.id).where(
            TradingPair.base_asset == spec.base,
            TradingPair.quote_asset == spec.quote,
            TradingPair.dex_protocol == spec.dex_protocol,
        )
    )
    if found is not None:
        return int(found)
    row = TradingPair(
        base_asset=spec.base,
        quote_asset=spec.quote,
        dex_protocol=spec.dex_protocol,
        min_trade_size=spec.min_size,
        tick_size=spec.tick_size,
        fee_rate=spec.taker_fee,
        fee_structure={"maker": str(spec.maker_fee), "taker": str(spec.taker_fee)},
        is_active=True,
    )
    session.add(row)
    await session.flush()
    return int(row.id)


async def _ensure_trader(session: AsyncSession, p: TraderProfile, simulated: bool) -> TraderInfo:
    row = await session.scalar(select(Trader).where(Trader.wallet_address == p.address))
    if row is None:
        row = Trader(
            wallet_address=p.address,
            display_name=p.display_name,
            risk_category=p.risk_category,
            style=p.style,
            starting_balance=p.starting_balance,
            is_simulated=simulated,
            verification_status="verified" if simulated else "unverified",
        )
        session.add(row)
        await session.flush()
    return TraderInfo(
        row.id, row.wallet_address, row.display_name, row.risk_category, row.starting_balance
    )

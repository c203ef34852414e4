"""Lead traders and trading pairs: the reference data trades point to."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from oneclick_tui.domain import entities as e
from oneclick_tui.stores import models as m
from oneclick_tui.stores.errors import DuplicateError, NotFoundError
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.base import Repository, to_entity


class TraderRepository(Repository):
    constraint_messages = {
        "uq_traders_wallet_address": (DuplicateError, "a trader with this wallet address exists"),
        "uq_traders_display_name": (DuplicateError, "a trader with this display name exists"),
    }

    async def register(
        self,
        wallet_address: str,
        display_name: str,
        *,
        risk_category: str = "medium",
        verification_status: str = "unverified",
        performance_rating: Decimal | None = None,
        style: str | None = None,
        starting_balance: Decimal | None = None,
        is_simulated: bool = False,
    ) -> e.Trader:
        wallet = v.text("wallet address", wallet_address, max_length=80)
        name = v.text("display name", display_name, max_length=64)
        v.choice("risk category", risk_category, e.RISK_CATEGORIES)
        v.choice("verification status", verification_status, e.TRADER_VERIFICATION)
        balance = None
        if starting_balance is not None:
            balance = v.non_negative("starting balance", starting_balance)
        async with self.transaction() as session:
            for column, value, label in (
                (m.Trader.wallet_address, wallet, "wallet address"),
                (m.Trader.display_name, name, "display name"),
            ):
                if await session.scalar(select(m.Trader.id).where(column == value)) is not None:
                    raise DuplicateError(f"a trader with {label} {value!r} already exists")
            row = m.Trader(
                wallet_address=wallet,
                display_name=name,
                registered_at=self._clock(),
                verification_status=verification_status,
                performance_rating=v.optional_decimal("performance rating", performance_rating),
                risk_category=risk_category,
                style=style,
                starting_balance=balance,
                is_simulated=is_simulated,
            )
            session.add(row)
            await session.flush()
            return to_entity(e.Trader, row)

    async def get(self, trader_id: int) -> e.Trader:
        async with self.transaction() as session:
            return to_entity(e.Trader, await self.require(session, m.Trader, trader_id, "trader"))

    async def by_wallet(self, wallet_address: str) -> e.Trader:
        async with self.transaction() as session:
            row = await session.scalar(
                select(m.Trader).where(m.Trader.wallet_address == wallet_address)
            )
            if row is None:
                raise NotFoundError(f"no trader with wallet address {wallet_address!r}")
            return to_entity(e.Trader, row)

    async def all(self) -> list[e.Trader]:
        async with self.transaction() as session:
            rows = await session.scalars(select(m.Trader).order_by(m.Trader.display_name))
            return [to_entity(e.Trader, row) for row in rows]


class PairRepository(Repository):
    constraint_messages = {
        "uq_trading_pairs_base_asset_quote_asset_dex_protocol": (
            DuplicateError,
            "this pair is already listed on this DEX",
        ),
    }

    async def add(
        self,
        base_asset: str,
        quote_asset: str,
        dex_protocol: str,
        *,
        min_trade_size: Decimal,
        tick_size: Decimal,
        fee_rate: Decimal = Decimal("0.003"),
        fee_structure: dict[str, Any] | None = None,
        is_active: bool = True,
    ) -> e.TradingPair:
        base = str(v.text("base asset", base_asset, max_length=32)).upper()
        quote = str(v.text("quote asset", quote_asset, max_length=32)).upper()
        dex = str(v.text("DEX protocol", dex_protocol, max_length=32))
        if base == quote:
            raise v.ValidationError(f"base and quote asset must differ, got {base}/{quote}")
        row = m.TradingPair(
            base_asset=base,
            quote_asset=quote,
            dex_protocol=dex,
            min_trade_size=v.positive("minimum trade size", min_trade_size),
            tick_size=v.positive("tick size", tick_size),
            fee_rate=v.in_range("fee rate", fee_rate, 0, 1),
            fee_structure=fee_structure,
            is_active=is_active,
        )
        async with self.transaction() as session:
            existing = await session.scalar(
                select(m.TradingPair.id).where(
                    m.TradingPair.base_asset == base,
                    m.TradingPair.quote_asset == quote,
                    m.TradingPair.dex_protocol == dex,
                )
            )
            if existing is not None:
                raise DuplicateError(f"pair {base}/{quote} on {dex} already exists")
            session.add(row)
            await session.flush()
            return to_entity(e.TradingPair, row)

    async def get(self, pair_id: int) -> e.TradingPair:
        async with self.transaction() as session:
            row = await self.require(session, m.TradingPair, pair_id, "trading pair")
            return to_entity(e.TradingPair, row)

    async def all(self, *, active_only: bool = False) -> list[e.TradingPair]:
        query = select(m.TradingPair).order_by(m.TradingPair.id)
        if active_only:
            query = query.where(m.TradingPair.is_active.is_(True))
        async with self.transaction() as session:
            return [to_entity(e.TradingPair, row) for row in await session.scalars(query)]

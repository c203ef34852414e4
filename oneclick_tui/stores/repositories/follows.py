"""Follow relationships: follow, pause, resume, unfollow; ended follows stay as history."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oneclick_tui.domain import entities as e
from oneclick_tui.stores import models as m
from oneclick_tui.stores.errors import DuplicateError, NotFoundError, StateError, ValidationError
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.base import Repository, to_entity

F = m.FollowRelationship


class FollowRepository(Repository):
    constraint_messages = {
        "uq_follow_relationships_live": (
            DuplicateError,
            "this user already follows this trader",
        ),
    }

    async def follow(
        self,
        follower_id: int,
        trader_id: int,
        *,
        copy_percentage: Decimal = Decimal(100),
        sizing_mode: str = "copy_pct",
        fixed_quote_amount: Decimal | None = None,
        copy_side: str = "all",
        auto_copy_enabled: bool = True,
    ) -> e.Follow:
        """Start following; refused while a live (active or paused) follow exists."""
        pct = v.in_range("copy percentage", copy_percentage, 0, 100, low_open=True)
        v.choice("sizing mode", sizing_mode, e.SIZING_MODES)
        v.choice("copy side", copy_side, e.COPY_SIDES)
        fixed = None
        if fixed_quote_amount is not None:
            fixed = v.positive("fixed quote amount", fixed_quote_amount)
        elif sizing_mode == "fixed_quote":
            raise ValidationError("sizing mode fixed_quote needs a fixed quote amount")
        async with self.transaction() as session:
            await self.require(session, m.User, follower_id, "user")
            await self.require(session, m.Trader, trader_id, "trader")
            live = await self._live(session, follower_id, trader_id)
            if live is not None:
                raise DuplicateError(
                    f"user {follower_id} already follows trader {trader_id} ({live.status})"
                )
            row = F(
                follower_id=follower_id,
                trader_id=trader_id,
                started_at=self._clock(),
                auto_copy_enabled=auto_copy_enabled,
                copy_percentage=pct,
                sizing_mode=sizing_mode,
                fixed_quote_amount=fixed,
                copy_side=copy_side,
                status="active",
            )
            session.add(row)
            await session.flush()
            await session.refresh(row)
            return to_entity(e.Follow, row)

    async def pause(self, follower_id: int, trader_id: int) -> e.Follow:
        async with self.transaction() as session:
            row = await self._require_live(session, follower_id, trader_id)
            if row.status != "active":
                raise StateError(f"the follow of trader {trader_id} is already paused")
            row.status = "paused"
            row.paused_at = self._clock()
            await session.flush()
            return to_entity(e.Follow, row)

    async def resume(self, follower_id: int, trader_id: int) -> e.Follow:
        """Back to active; paused_at keeps the time of the last pause."""
        async with self.transaction() as session:
            row = await self._require_live(session, follower_id, trader_id)
            if row.status != "paused":
                raise StateError(f"the follow of trader {trader_id} is not paused")
            row.status = "active"
            await session.flush()
            return to_entity(e.Follow, row)

    async def unfollow(self, follower_id: int, trader_id: int) -> e.Follow:
        async with self.transaction() as session:
            row = await self._require_live(session, follower_id, trader_id)
            row.status = "ended"
            row.ended_at = self._clock()
            await session.flush()
            return to_entity(e.Follow, row)

    async def live(self, follower_id: int, trader_id: int) -> e.Follow | None:
        """The current (active or paused) follow, if any."""
        async with self.transaction() as session:
            row = await self._live(session, follower_id, trader_id)
            return None if row is None else to_entity(e.Follow, row)

    async def active_of_trader(self, trader_id: int) -> list[e.Follow]:
        """The copy engine's fan-out for one lead trade."""
        query = select(F).where(F.trader_id == trader_id, F.status == "active").order_by(F.id)
        async with self.transaction() as session:
            return [to_entity(e.Follow, row) for row in await session.scalars(query)]

    async def of_user(self, follower_id: int, *, include_ended: bool = False) -> list[e.Follow]:
        query = select(F).where(F.follower_id == follower_id).order_by(F.id)
        if not include_ended:
            query = query.where(F.status != "ended")
        async with self.transaction() as session:
            return [to_entity(e.Follow, row) for row in await session.scalars(query)]

    @staticmethod
    async def _live(session: AsyncSession, follower_id: int, trader_id: int) -> F | None:
        query = select(F).where(
            F.follower_id == follower_id, F.trader_id == trader_id, F.status != "ended"
        )
        return (await session.scalars(query.with_for_update())).first()

    async def _require_live(self, session: AsyncSession, follower_id: int, trader_id: int) -> F:
        row = await self._live(session, follower_id, trader_id)
        if row is None:
            raise NotFoundError(f"user {follower_id} does not follow trader {trader_id}")
        return row

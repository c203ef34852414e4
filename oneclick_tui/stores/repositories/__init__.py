"""Async repositories: one use case per method, one transaction per use case.

They return frozen entities from `oneclick_tui.domain.entities` and raise the typed errors of
`oneclick_tui.stores.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.repositories.base import Clock, Repository, utcnow
from oneclick_tui.stores.repositories.follows import FollowRepository
from oneclick_tui.stores.repositories.positions import PositionRepository
from oneclick_tui.stores.repositories.traders import PairRepository, TraderRepository
from oneclick_tui.stores.repositories.trades import TradeRepository
from oneclick_tui.stores.repositories.users import UserRepository

__all__ = [
    "FollowRepository",
    "PairRepository",
    "PositionRepository",
    "Repositories",
    "Repository",
    "TradeRepository",
    "TraderRepository",
    "UserRepository",
]


@dataclass(frozen=True)
class Repositories:
    """Every repository over one session factory, for wiring services."""

    users: UserRepository
    traders: TraderRepository
    pairs: PairRepository
    trades: TradeRepository
    positions: PositionRepository
    follows: FollowRepository

    @classmethod
    def over(
        cls, sessions: async_sessionmaker[AsyncSession], clock: Clock = utcnow
    ) -> Repositories:
        return cls(
            users=UserRepository(sessions, clock),
            traders=TraderRepository(sessions, clock),
            pairs=PairRepository(sessions, clock),
            trades=TradeRepository(sessions, clock),
            positions=PositionRepository(sessions, clock),
            follows=FollowRepository(sessions, clock),
        )

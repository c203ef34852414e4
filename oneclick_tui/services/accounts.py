"""The console's local user: created on first start with default preferences and paper cash.

The data model is multi-user (self-hosters run it for several people); the console acts as
one local user, found by its reserved display name.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from oneclick_tui.domain import entities as e
from oneclick_tui.stores.models import User
from oneclick_tui.stores.repositories import Repositories

LOCAL_USER = "local"
PAPER_CASH: dict[str, Decimal] = {"USDC": Decimal(10_000), "USDT": Decimal(10_000)}
"""What a new paper account starts with (simulator, or live networks with paper execution)."""


async def ensure_local_user(repos: Repositories, paper: bool) -> e.User:
    """The local user, created (with paper cash when `paper`) if this is the first start."""
    async with repos.users.transaction() as session:
        found = await session.scalar(
            select(User).where(User.display_name == LOCAL_USER).order_by(User.id).limit(1)
        )
    if found is not None:
        return await repos.users.get(found.id)
    user, _ = await repos.users.create(
        display_name=LOCAL_USER,
        max_trade_amount=Decimal(1_000),
        daily_trading_limit=Decimal(5_000),
        stop_loss_pct=Decimal(15),
    )
    if paper:
        for asset, amount in PAPER_CASH.items():
            await repos.positions.upsert(user.id, asset, quantity=amount, average_cost=Decimal(1))
    return user

"""Open everything a command, the engine or the console needs, from the settings alone.

Embedded SQLite is created and migrated on first start; PostgreSQL must be migrated with
`oneclick db upgrade` (a self-hoster decides when the schema changes), and says so if not.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from oneclick_tui.config import Settings, mask_url
from oneclick_tui.domain import entities as e
from oneclick_tui.services.accounts import LOCAL_USER, ensure_local_user
from oneclick_tui.services.engine.catalog import Catalog, TraderProfile, seed_catalog
from oneclick_tui.services.sim.pairs import PAIRS
from oneclick_tui.services.sim.traders import make_traders
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import ensure_schema, is_sqlite, make_engine, session_factory
from oneclick_tui.stores.models import User
from oneclick_tui.stores.partitions import ensure_partitions_on_start
from oneclick_tui.stores.repositories import Repositories
from oneclick_tui.stores.security.rls import connected_as_app, user_scoped_sessions


class SetupError(Exception):
    """The stores are not ready; the message says what to do."""


@dataclass
class Services:
    """The relational store, repositories, catalog and local user, opened together."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    repos: Repositories
    catalog: Catalog
    user: e.User

    async def close(self) -> None:
        await self.engine.dispose()


def sim_profiles(seed: int) -> list[TraderProfile]:
    """The simulated lead traders of this seed, as catalog entries."""
    return [
        TraderProfile(t.address, t.name, t.risk_category, t.style.value, t.starting_balance)
        for t in make_traders(seed, PAIRS)
    ]


async def open_services(settings: Settings) -> Services:
    """Migrate (embedded) or check (PostgreSQL) the schema, then load catalog and user."""
    url = settings.database_url
    try:
        if is_sqlite(url):
            await ensure_schema(url)
        elif await migrate.current(url) != migrate.head():
            raise SetupError(
                f"database {mask_url(url)} is not at the current schema; run: oneclick db upgrade"
            )
    except (OSError, ConnectionError) as exc:
        raise SetupError(f"cannot reach database {mask_url(url)}: {exc}") from None
    engine = make_engine(url)
    sessions = session_factory(engine)
    if await connected_as_app(engine):
        # The console as the app role (full stack): RLS shows a transaction only the rows of
        # the user it acts for, so every transaction of every service acts for the local user.
        sessions = user_scoped_sessions(engine, await _local_user_id(sessions, url))
    await ensure_partitions_on_start(engine)
    repos = Repositories.over(sessions)
    simulated = settings.network == "sim"
    profiles = sim_profiles(settings.sim.seed) if simulated else []
    catalog = await seed_catalog(sessions, PAIRS if simulated else [], profiles, simulated)
    # Paper cash wherever copies fill on paper: the simulator, and live networks with
    # aptos.execution = "paper"; with "chain" the balances are the wallet's own.
    paper = simulated or settings.aptos.execution == "paper"
    user = await ensure_local_user(repos, paper=paper)
    return Services(settings, engine, sessions, repos, catalog, user)


async def _local_user_id(sessions: async_sessionmaker[AsyncSession], url: str) -> int:
    """The local user's id, read before scoping (users has no RLS; its rows are not private).

    The app role cannot create it: its preferences row is RLS-protected and the user's id is
    not known before the insert. The owner or engine role creates it on first start.
    """
    async with sessions() as session:
        found = await session.scalar(
            select(User.id).where(User.display_name == LOCAL_USER).order_by(User.id).limit(1)
        )
    if found is None:
        raise SetupError(
            f"database {mask_url(url)}: the local user does not exist yet and the app role may "
            "not create it; start `oneclick` once with the owner or engine URL"
        )
    return int(found)

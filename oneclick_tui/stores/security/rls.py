"""Row-level security scope: which user a transaction acts for.

Why per transaction: the console's pool hands connections to whoever asks next, so a
session-wide setting would leak one user's scope to another's query. `set_config(..., true)`
is `SET LOCAL`: it ends with the transaction. Unset means the policies match no user rows.
The copy engine, which writes for many users in one transaction, connects as its own
`<prefix>_engine` role instead (its policies allow every row) and only names itself as actor.
On SQLite (single user, no RLS) these helpers do nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

Executor = AsyncSession | AsyncConnection


def _is_postgres(executor: Executor) -> bool:
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name == "postgresql"
    return executor.get_bind().dialect.name == "postgresql"


async def act_as_user(executor: Executor, user_id: int) -> None:
    """Scope the current transaction to `user_id` (SET LOCAL app.user_id)."""
    if not _is_postgres(executor):
        return
    await executor.execute(
        text("SELECT set_config('app.user_id', :uid, true), set_config('app.actor', :who, true)"),
        {"uid": str(int(user_id)), "who": f"user:{int(user_id)}"},
    )


async def act_as(executor: Executor, actor: str) -> None:
    """Name who acts in this transaction for the audit triggers (e.g. 'engine', 'system')."""
    if not _is_postgres(executor):
        return
    await executor.execute(text("SELECT set_config('app.actor', :who, true)"), {"who": actor[:64]})


@asynccontextmanager
async def user_transaction(
    sessions: async_sessionmaker[AsyncSession], user_id: int
) -> AsyncIterator[AsyncSession]:
    """One transaction that sees and changes only `user_id`'s rows; commits on success."""
    async with sessions.begin() as session:
        await act_as_user(session, user_id)
        yield session

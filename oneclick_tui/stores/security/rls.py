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
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

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


_APP_ROLE_CHECK = text(
    """
    SELECT to_regproc('oneclick_role') IS NOT NULL
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND pg_has_role(current_user, oneclick_role('app'), 'USAGE')
       AND NOT pg_has_role(current_user, oneclick_role('engine'), 'USAGE')
    """
)


async def connected_as_app(engine: AsyncEngine) -> bool:
    """True when `engine` logs in as the app role (RLS then hides rows of an unset user).

    to_regproc is checked first so an unmigrated or SQLite database answers False.
    """
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regproc('oneclick_role') IS NOT NULL"))
        if not exists:
            return False
        return bool(await conn.scalar(_APP_ROLE_CHECK))


def user_scoped_sessions(engine: AsyncEngine, user_id: int) -> async_sessionmaker[AsyncSession]:
    """A session factory whose every transaction acts for `user_id` (SET LOCAL app.user_id).

    Why an `after_begin` hook: services open their own sessions and transactions in many
    places; scoping each by hand is one forgotten call away from a screen of empty rows (or,
    without RLS, of other users' rows). The hook runs on the transaction's connection before
    any statement of it, and `set_config(..., true)` ends with the transaction, so a pooled
    connection never carries the scope to anyone else. The session class is private to this
    factory: other factories (the engine's) are not affected.
    """
    uid = str(int(user_id))
    scoped = type(f"UserScopedSession_{uid}", (Session,), {})

    def scope(_session: Session, _transaction: Any, connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(_SCOPE, {"uid": uid, "who": f"user:{uid}"})

    event.listen(scoped, "after_begin", scope)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=scoped)


_SCOPE = text("SELECT set_config('app.user_id', :uid, true), set_config('app.actor', :who, true)")

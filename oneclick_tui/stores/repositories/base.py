"""What every repository shares: one transaction per use case, a clock, row -> entity."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.errors import (
    NotFoundError,
    StoreError,
    UnavailableError,
    from_integrity_error,
)

E = TypeVar("E")
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_entity(entity_type: type[E], row: Any, **overrides: Any) -> E:
    """A frozen entity from an ORM row: fields are read by name."""
    names = [field.name for field in dataclasses.fields(entity_type)]  # type: ignore[arg-type]
    values = {name: getattr(row, name) for name in names if name not in overrides}
    return entity_type(**values, **overrides)


class Repository:
    """Base: each public method is one use case in one transaction."""

    # Constraint name -> (error type, message) for the safety net; subclasses extend it.
    constraint_messages: dict[str, tuple[type[StoreError], str]] = {}

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit if the block finishes, roll back everything if it raises."""
        try:
            async with self._sessions.begin() as session:
                yield session
        except IntegrityError as exc:
            raise from_integrity_error(exc, self.constraint_messages) from exc
        except (OperationalError, InterfaceError, OSError) as exc:
            raise UnavailableError(f"database unavailable: {exc}") from exc

    @staticmethod
    async def require(session: AsyncSession, model: type[Any], key: Any, label: str) -> Any:
        row = await session.get(model, key)
        if row is None:
            raise NotFoundError(f"{label} {key} not found")
        return row

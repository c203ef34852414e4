"""Typed store errors, and the safety net that names the constraint a write violated.

Repositories validate before writing so their messages are precise; if a write still hits the
database's constraints (a race, or a rule only the database knows), `from_integrity_error`
turns the driver's error into one of these by constraint name. PostgreSQL reports the name;
SQLite names CHECKs but only lists columns for UNIQUE and says nothing for foreign keys, so
those are looked up in the schema or reported generically.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.exc import IntegrityError


class StoreError(Exception):
    """Anything the relational store refuses; the message is one line for the user."""

    def __init__(self, message: str, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class ValidationError(StoreError):
    """A value is out of range, missing or not one of the allowed choices."""


class DuplicateError(StoreError):
    """A row with the same unique key already exists."""


class NotFoundError(StoreError):
    """A row the use case needs (or refers to) does not exist."""


class StateError(StoreError):
    """The row exists but is in a state that does not allow this change."""


class InUseError(StoreError):
    """The row cannot be deleted because other rows still refer to it."""


class UnavailableError(StoreError):
    """The database cannot be reached."""


FOREIGN_KEY = "foreign_key"

_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_SQLITE_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")


def constraint_name(exc: IntegrityError) -> str | None:
    """The violated constraint's name; `not_null_<table>_<column>` for NOT NULL."""
    orig: Any = exc.orig
    cause: Any = getattr(orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    if name:
        # A monthly partition's copy of a key is `<key>__<partition>` (migration 0005).
        return str(name).split("__", 1)[0]
    column = getattr(cause, "column_name", None)
    if column:  # asyncpg NotNullViolationError
        return f"not_null_{cause.table_name}_{column}"
    message = str(orig)
    if match := _SQLITE_CHECK.search(message):
        return match.group(1)
    if match := _SQLITE_NOT_NULL.search(message):
        return f"not_null_{match.group(1)}_{match.group(2)}"
    if match := _SQLITE_UNIQUE.search(message):
        return _unique_by_columns(match.group(1))
    if "FOREIGN KEY constraint failed" in message:
        return FOREIGN_KEY
    return None


def _unique_by_columns(listing: str) -> str | None:
    """SQLite's "t.a, t.b" for a UNIQUE failure, back to the constraint or index name."""
    from oneclick_tui.stores.models import Base

    pairs = [item.strip().split(".", 1) for item in listing.split(",")]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        return None
    table = Base.metadata.tables.get(pairs[0][0])
    if table is None:
        return None
    columns = [pair[1] for pair in pairs]
    candidates: list[Any] = [*table.constraints, *table.indexes]
    for item in candidates:
        unique = isinstance(item, UniqueConstraint) or (isinstance(item, Index) and item.unique)
        if unique and item.name and [col.name for col in item.columns] == columns:
            return str(item.name)
    if columns == [col.name for col in table.primary_key.columns]:
        return f"pk_{table.name}"
    return None


def from_integrity_error(
    exc: IntegrityError, messages: dict[str, tuple[type[StoreError], str]] | None = None
) -> StoreError:
    """The typed error for a violated constraint, with the caller's message if it has one."""
    name = constraint_name(exc)
    if messages and name in messages:
        kind, message = messages[name]
        return kind(message, constraint=name)
    if name is None:
        return StoreError(f"the database refused the write: {exc.orig}")
    if name == FOREIGN_KEY or name.startswith("fk_"):
        return NotFoundError(f"a referenced row does not exist ({name})", constraint=name)
    if name.startswith(("uq_", "pk_")):
        return DuplicateError(f"already exists ({name})", constraint=name)
    return ValidationError(f"value not allowed ({name})", constraint=name)

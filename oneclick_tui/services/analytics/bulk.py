"""Bulk inserts: COPY on PostgreSQL (tens of thousands of rows per recompute), plain
executemany elsewhere. Values are normalised by the column types first, exactly as an ORM
insert would bind them, so both ways store the same thing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from oneclick_tui.stores.types import DecimalType


async def insert_rows(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (all with the same keys) into ``table`` inside the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        await conn.execute(table.insert(), [dict(r) for r in rows])
        return
    columns = list(rows[0])
    types = [table.c[name].type for name in columns]
    records = [
        tuple(
            t.normalise(row[name]) if isinstance(t, DecimalType) and row[name] is not None
            else row[name]
            for name, t in zip(columns, types, strict=True)
        )
        for row in rows
    ]  # fmt: skip
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=columns)

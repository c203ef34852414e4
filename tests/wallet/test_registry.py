"""The wallets table through the registry: address, label, public key, never the key."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from oneclick_tui.services.wallet.keys import generate_key
from oneclick_tui.services.wallet.registry import WalletRegistry
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory


async def test_add_list_get_remove(fresh_db_url: str) -> None:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    try:
        registry = WalletRegistry(session_factory(engine))
        a, b = generate_key(), generate_key()
        await registry.add(a.address, a.public_key_hex, "main")
        await registry.add(b.address, b.public_key_hex)
        await registry.add(a.address, a.public_key_hex, "renamed")  # upsert, one row

        records = await registry.list()
        assert [r.address for r in records] == sorted([a.address, b.address])
        found = await registry.get(a.address)
        assert found is not None and found.label == "renamed"
        assert found.public_key == a.public_key_hex

        assert await registry.remove(a.address) is True
        assert await registry.remove(a.address) is False
        assert await registry.get(a.address) is None

        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("wallets")}
            )
        assert not any("private" in c or "secret" in c for c in columns)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("label", [None, "x" * 64])
async def test_labels(fresh_sqlite_url: str, label: str | None) -> None:
    await ensure_schema(fresh_sqlite_url)
    engine = make_engine(fresh_sqlite_url)
    try:
        registry = WalletRegistry(session_factory(engine))
        key = generate_key()
        record = await registry.add(key.address, key.public_key_hex, label)
        assert record.label == label
    finally:
        await engine.dispose()

"""Field-level encryption of session IP and device: AES-GCM, key id inline, rotation online."""

from __future__ import annotations

import base64
import contextlib

import pytest
from sqlalchemy import text

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine
from oneclick_tui.stores.security import fieldcrypt as fc
from tests.security.conftest import seed

T, C = "user_sessions", "ip_address"


def test_round_trip_carries_the_key_id_and_binds_the_row() -> None:
    cipher = fc.FieldCipher(fc.KeySet.generate())
    sealed = cipher.encrypt("203.0.113.7", T, C, "s1")
    assert sealed is not None and "203.0.113.7" not in sealed
    assert fc.key_id_of(sealed) == cipher.keys.active
    assert cipher.decrypt(sealed, T, C, "s1") == "203.0.113.7"
    assert cipher.encrypt("203.0.113.7", T, C, "s1") != sealed  # fresh nonce each time
    assert cipher.decrypt(None, T, C, "s1") is None
    with pytest.raises(fc.FieldCryptoError, match="tampered or misplaced"):
        cipher.decrypt(sealed, T, C, "s2")  # copied onto another row
    with pytest.raises(fc.FieldCryptoError, match="tampered or misplaced"):
        cipher.decrypt(sealed, T, "device_info", "s1")  # or into another column
    flipped = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(fc.FieldCryptoError):
        cipher.decrypt(flipped, T, C, "s1")
    with pytest.raises(fc.FieldCryptoError, match="unknown data key"):
        fc.FieldCipher(fc.KeySet.generate()).decrypt(sealed, T, C, "s1")


async def _sessions(url: str) -> list[tuple[str, str | None, str | None]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id, ip_address, device_info FROM user_sessions ORDER BY id")
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


async def test_rotation_reencrypts_in_batches_while_old_key_stays_readable(
    fresh_db_url: str,
) -> None:
    await migrate.upgrade(fresh_db_url)
    data = await seed(fresh_db_url)  # two sessions written in plaintext (before encryption)
    store = fc.MemoryKeyStore()
    first = fc.load_or_create(store)
    engine = make_engine(fresh_db_url)
    try:
        assert await fc.reencrypt(engine, fc.FieldCipher(first), batch=1) == 2
        stored = await _sessions(fresh_db_url)
        assert all(fc.key_id_of(ip) == first.active for _, ip, _ in stored)  # type: ignore[arg-type]
        assert not any("10.0.0" in (ip or "") for _, ip, _ in stored)

        old_id = first.active
        keys = fc.rotate(store)
        assert keys.active != old_id and set(keys.keys) == {old_id, keys.active}
        cipher = fc.FieldCipher(keys)
        # Mid-rotation: old rows still decrypt with the same key set, new writes use the new key.
        for sid, ip, device in await _sessions(fresh_db_url):
            assert cipher.decrypt(ip, T, C, sid) == f"10.0.0.{sid.split('-')[1]}"
            assert cipher.decrypt(device, T, "device_info", sid) == f"device {sid.split('-')[1]}"
        assert await fc.retire(engine, store) == []  # still in use: kept

        assert await fc.reencrypt(engine, cipher, batch=1) == 2
        assert await fc.reencrypt(engine, cipher, batch=1) == 0  # idempotent
        for sid, ip, device in await _sessions(fresh_db_url):
            assert fc.key_id_of(ip) == keys.active and fc.key_id_of(device) == keys.active  # type: ignore[arg-type]
            assert cipher.decrypt(ip, T, C, sid) == f"10.0.0.{sid.split('-')[1]}"
        assert await fc.retire(engine, store) == [old_id]
        assert set(store.load().keys) == {keys.active}  # type: ignore[union-attr]
        assert data.alice != data.bob
    finally:
        await engine.dispose()


async def test_no_key_material_reaches_the_database(fresh_db_url: str) -> None:
    await migrate.upgrade(fresh_db_url)
    await seed(fresh_db_url)
    store = fc.MemoryKeyStore()
    keys = fc.load_or_create(store)
    engine = make_engine(fresh_db_url)
    try:
        await fc.reencrypt(engine, fc.FieldCipher(keys))
    finally:
        await engine.dispose()
    blob = repr(await _sessions(fresh_db_url))
    for key in keys.keys.values():
        assert key.hex() not in blob and base64.b64encode(key).decode() not in blob


@pytest.mark.keyring
def test_data_keys_live_in_the_os_keyring() -> None:
    from oneclick_tui.services.wallet.keystore import select_backend
    from tests.wallet.conftest import unlock_default_collection

    unlock_default_collection()
    backend = select_backend("secretservice")
    store = fc.KeyringKeyStore(backend, "test-host/test-db")
    try:
        assert store.load() is None
        keys = fc.load_or_create(store)
        again = fc.KeyringKeyStore(select_backend("secretservice"), "test-host/test-db").load()
        assert again is not None and again.active == keys.active and again.keys == keys.keys
        rotated = fc.rotate(store)
        loaded = store.load()
        assert loaded is not None and loaded.active == rotated.active and len(loaded.keys) == 2
        assert fc.KeyringKeyStore(backend, "other-host/other-db").load() is None
    finally:
        with contextlib.suppress(Exception):
            backend.delete_password(fc.KEYRING_SERVICE, "data-keys:test-host/test-db")

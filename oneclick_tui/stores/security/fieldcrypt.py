"""Field-level encryption of private columns (user_sessions.ip_address, device_info).

Why: a database dump, a replica or a backup must not reveal where and on what a user logs in.
Values are AES-256-GCM sealed as ``enc1:<key_id>:<base64(nonce || ciphertext)>``; the key id
travels with the ciphertext so several keys can be live during a rotation, and the
associated data binds a value to its table, column and row (a ciphertext copied to another
row does not decrypt). The data keys live in the OS keyring, never in the database.

Rotation without downtime: `rotate()` adds a new key and makes it active (new writes use it,
old values still decrypt), `reencrypt()` rewrites rows in small committed batches, and
`retire()` drops old keys only once no row refers to them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PREFIX = "enc1"
KEYRING_SERVICE = "oneclick-db"
ENCRYPTED_COLUMNS = ("ip_address", "device_info")


class FieldCryptoError(Exception):
    """A value cannot be decrypted (unknown key, tampered value) or keys are unusable."""


@dataclass
class KeySet:
    """Data keys by id, and which one new values are sealed with."""

    active: str
    keys: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> KeySet:
        key_id = secrets.token_hex(4)
        return cls(active=key_id, keys={key_id: AESGCM.generate_key(bit_length=256)})

    def to_json(self) -> str:
        encoded = {k: base64.b64encode(v).decode() for k, v in self.keys.items()}
        return json.dumps({"active": self.active, "keys": encoded})

    @classmethod
    def from_json(cls, raw: str) -> KeySet:
        data = json.loads(raw)
        return cls(data["active"], {k: base64.b64decode(v) for k, v in data["keys"].items()})


class KeyStore(Protocol):
    """Where the key set is kept between runs."""

    def load(self) -> KeySet | None: ...

    def save(self, keys: KeySet) -> None: ...


class MemoryKeyStore:
    """For tests and one-off tools: the key set lives only in this process."""

    def __init__(self, keys: KeySet | None = None) -> None:
        self._keys = keys

    def load(self) -> KeySet | None:
        return self._keys

    def save(self, keys: KeySet) -> None:
        self._keys = keys


class KeyringKeyStore:
    """The key set as one OS-keyring entry (service `oneclick-db`, one entry per database)."""

    def __init__(self, backend: Any, scope: str) -> None:
        """`backend`: a keyring backend chosen by the caller (see wallet.keystore)."""
        self._backend = backend
        self._user = f"data-keys:{scope}"

    def load(self) -> KeySet | None:
        raw = self._backend.get_password(KEYRING_SERVICE, self._user)
        return KeySet.from_json(raw) if raw else None

    def save(self, keys: KeySet) -> None:
        payload = keys.to_json()
        self._backend.set_password(KEYRING_SERVICE, self._user, payload)
        if self._backend.get_password(KEYRING_SERVICE, self._user) != payload:
            raise FieldCryptoError("the OS keyring did not keep the data keys")


def load_or_create(store: KeyStore) -> KeySet:
    """The stored key set, or a new one saved first (so no value is sealed with a lost key)."""
    keys = store.load()
    if keys is None:
        keys = KeySet.generate()
        store.save(keys)
    return keys


class FieldCipher:
    """Seal and open column values with a key set."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    @staticmethod
    def _aad(table: str, column: str, row_id: str) -> bytes:
        return f"{table}.{column}:{row_id}".encode()

    def encrypt(self, value: str | None, table: str, column: str, row_id: str) -> str | None:
        if value is None:
            return None
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys.keys[self.keys.active]).encrypt(
            nonce, value.encode(), self._aad(table, column, row_id)
        )
        return f"{PREFIX}:{self.keys.active}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, value: str | None, table: str, column: str, row_id: str) -> str | None:
        if value is None:
            return None
        if not is_encrypted(value):
            return value  # written before encryption was enabled; reencrypt() seals it
        _, key_id, body = value.split(":", 2)
        key = self.keys.keys.get(key_id)
        if key is None:
            raise FieldCryptoError(f"{table}.{column} of {row_id}: unknown data key {key_id}")
        raw = base64.b64decode(body)
        try:
            plain = AESGCM(key).decrypt(raw[:12], raw[12:], self._aad(table, column, row_id))
        except InvalidTag:
            raise FieldCryptoError(f"{table}.{column} of {row_id}: tampered or misplaced") from None
        return plain.decode()


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX + ":")


def key_id_of(value: str) -> str | None:
    return value.split(":", 2)[1] if is_encrypted(value) else None


def rotate(store: KeyStore) -> KeySet:
    """Add a new active key; old keys stay so existing values keep decrypting."""
    keys = load_or_create(store)
    key_id = secrets.token_hex(4)
    while key_id in keys.keys:
        key_id = secrets.token_hex(4)
    keys.keys[key_id] = AESGCM.generate_key(bit_length=256)
    keys.active = key_id
    store.save(keys)
    return keys


async def reencrypt(engine: AsyncEngine, cipher: FieldCipher, batch: int = 500) -> int:
    """Seal every session field not yet under the active key; returns rows rewritten.

    Small committed batches (with SKIP LOCKED on PostgreSQL) keep locks short, so the console
    and engine keep running. Run as the owner role (it is not subject to row-level security).
    """
    current = f"{PREFIX}:{cipher.keys.active}:%"
    stale = " OR ".join(f"({c} IS NOT NULL AND {c} NOT LIKE :current)" for c in ENCRYPTED_COLUMNS)
    lock = " FOR UPDATE SKIP LOCKED" if engine.dialect.name == "postgresql" else ""
    select = text(
        f"SELECT id, {', '.join(ENCRYPTED_COLUMNS)} FROM user_sessions WHERE {stale} "
        f"LIMIT :batch{lock}"
    )
    update = text(
        "UPDATE user_sessions SET ip_address = :ip_address, device_info = :device_info "
        "WHERE id = :id"
    )
    total = 0
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(select, {"current": current, "batch": batch})).all()
            for row in rows:
                values = {"id": row.id}
                for column in ENCRYPTED_COLUMNS:
                    plain = cipher.decrypt(getattr(row, column), "user_sessions", column, row.id)
                    values[column] = cipher.encrypt(plain, "user_sessions", column, row.id)
                await conn.execute(update, values)
        total += len(rows)
        if len(rows) < batch:
            return total


async def retire(engine: AsyncEngine, store: KeyStore) -> list[str]:
    """Drop keys no stored value uses any more; returns the retired ids."""
    keys = load_or_create(store)
    retired = []
    async with engine.connect() as conn:
        for key_id in [k for k in keys.keys if k != keys.active]:
            pattern = f"{PREFIX}:{key_id}:%"
            used = " OR ".join(f"{c} LIKE :p" for c in ENCRYPTED_COLUMNS)
            count = (
                await conn.execute(
                    text(f"SELECT count(*) FROM user_sessions WHERE {used}"), {"p": pattern}
                )
            ).scalar_one()
            if count == 0:
                retired.append(key_id)
    for key_id in retired:
        del keys.keys[key_id]
    if retired:
        store.save(keys)
    return retired

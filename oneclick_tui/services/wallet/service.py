"""Wallet use cases shared by the CLI and the console: create, import, list, remove.

The keyring is the source of truth for which keys exist; the database row (address, label,
public key) is a convenience. When the database cannot be written the key is still safe in
the keyring and the caller gets a warning to show, not a failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from oneclick_tui.services.wallet.keys import (
    WalletKey,
    check_address,
    generate_key,
    normalize_address,
    parse_private_key,
)
from oneclick_tui.services.wallet.keystore import Keystore
from oneclick_tui.services.wallet.registry import WalletRegistry


@dataclass(frozen=True)
class WalletInfo:
    """What a user may see about a wallet: never the key."""

    address: str
    public_key: str | None
    label: str | None = None
    in_keyring: bool = True
    in_database: bool = False


@dataclass(frozen=True)
class Outcome:
    wallet: WalletInfo
    warning: str | None = None


class WalletService:
    def __init__(self, keystore: Keystore, registry: WalletRegistry | None = None) -> None:
        self._keystore = keystore
        self._registry = registry

    def __repr__(self) -> str:
        return f"WalletService({self._keystore!r})"

    async def create(self, label: str | None = None) -> Outcome:
        """Generate a key and store it."""
        return await self._save(generate_key(), label)

    async def import_key(
        self, secret: str, label: str | None = None, expected_address: str | None = None
    ) -> Outcome:
        """Parse (and optionally check) a key before anything is stored."""
        key = parse_private_key(secret)
        if expected_address is not None:
            check_address(key, expected_address)
        return await self._save(key, label)

    async def _save(self, key: WalletKey, label: str | None) -> Outcome:
        await asyncio.to_thread(self._keystore.store, key)
        warning = None
        in_db = False
        if self._registry is not None:
            try:
                await self._registry.add(key.address, key.public_key_hex, label)
                in_db = True
            except Exception as exc:
                warning = f"key stored in the keyring, database record not written: {_brief(exc)}"
        return Outcome(WalletInfo(key.address, key.public_key_hex, label, True, in_db), warning)

    async def list(self) -> tuple[list[WalletInfo], str | None]:
        """Keyring addresses merged with database rows; a warning if the DB was unreadable."""
        in_keyring = set(await asyncio.to_thread(self._keystore.addresses))
        rows = {}
        warning = None
        if self._registry is not None:
            try:
                rows = {r.address: r for r in await self._registry.list()}
            except Exception as exc:
                warning = f"database not readable, showing keyring entries only: {_brief(exc)}"
        result = []
        for address in sorted(in_keyring | set(rows)):
            row = rows.get(address)
            result.append(
                WalletInfo(
                    address,
                    row.public_key if row else None,
                    row.label if row else None,
                    address in in_keyring,
                    row is not None,
                )
            )
        return result, warning

    async def remove(self, address: str) -> tuple[bool, str | None]:
        """Delete the key and the row; True if anything was removed."""
        wanted = normalize_address(address)
        removed = await asyncio.to_thread(self._keystore.delete, wanted)
        warning = None
        if self._registry is not None:
            try:
                removed = await self._registry.remove(wanted) or removed
            except Exception as exc:
                warning = f"database record not removed: {_brief(exc)}"
        return removed, warning

    async def load_key(self, address: str) -> WalletKey:
        return await asyncio.to_thread(self._keystore.load, address)


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] or type(exc).__name__) if text else type(exc).__name__

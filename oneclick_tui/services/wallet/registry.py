"""The database side of a wallet: address, label and public key (never the private key).

The keyring holds the secret; this table is what screens list and what follows/copies point
at. Records belong to a user; the embedded single-user console uses the first user row
(created as "local" on first use) unless a user id is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.models import User, Wallet

LOCAL_USER_NAME = "local"


@dataclass(frozen=True)
class WalletRecord:
    """A wallet as the rest of OneClick sees it."""

    address: str
    label: str | None
    public_key: str | None
    created_at: datetime | None


def _record(row: Wallet) -> WalletRecord:
    return WalletRecord(row.address, row.label, row.public_key, row.created_at)


class WalletRegistry:
    """Add, list, find and remove wallet rows."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _local_user_id(self, session: AsyncSession) -> int:
        user_id = await session.scalar(select(User.id).order_by(User.id).limit(1))
        if user_id is not None:
            return int(user_id)
        user = User(display_name=LOCAL_USER_NAME)
        session.add(user)
        await session.flush()
        return int(user.id)

    async def add(
        self,
        address: str,
        public_key: str,
        label: str | None = None,
        user_id: int | None = None,
    ) -> WalletRecord:
        """Insert the wallet, or update its label/public key when the address is known."""
        async with self._sessions.begin() as session:
            row = await session.scalar(select(Wallet).where(Wallet.address == address))
            if row is None:
                owner = user_id if user_id is not None else await self._local_user_id(session)
                row = Wallet(user_id=owner, address=address, label=label, public_key=public_key)
                session.add(row)
                try:
                    await session.flush()
                except IntegrityError:
                    raise ValueError(f"wallet {address} could not be recorded") from None
            else:
                row.public_key = public_key
                if label is not None:
                    row.label = label
            return _record(row)

    async def list(self) -> list[WalletRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Wallet).order_by(Wallet.address))
            return [_record(r) for r in rows]

    async def get(self, address: str) -> WalletRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(select(Wallet).where(Wallet.address == address))
            return None if row is None else _record(row)

    async def remove(self, address: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Wallet).where(Wallet.address == address))
            return bool(getattr(result, "rowcount", 0))

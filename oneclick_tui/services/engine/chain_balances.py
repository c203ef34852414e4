"""Keep the followers' `positions` in step with their wallets when copies execute on chain.

Why: with execution = chain the copy engine's risk rules ("sufficient balance", sizing by
equity, never sell more than held) read `positions`, and those rows must be what the
follower's wallet really holds, not what paper fills or a hand-seeded figure say.

What a sync writes, and what it leaves alone:

- **quantity is the chain's**: each tracked asset's primary-store balance, read with the
  ``0x1::primary_fungible_store::balance`` view and turned into display units exactly
  (base units scaled by the asset's decimals, a Decimal, never a float). Deposits,
  withdrawals, gas and swaps made outside OneClick all show up this way.
- **the cost basis is the engine's**: ``average_cost`` and ``realized_pnl`` are kept as the
  copy engine maintains them (a sync is not a trade: nothing was bought or realized). A
  holding seen on chain for the first time gets ``average_cost`` 0, the engine's own
  default for a row it creates: its basis is unknown, and 0 never triggers a stop-loss, so
  OneClick does not sell what it did not buy on a price drop.
- **the last mark is rescaled**: ``current_value``/``unrealized_pnl`` follow the new quantity
  at the last marked price until the next mark (once a second) revalues them.
- **a failed read changes nothing**: a node error (unreachable, 429/5xx, a malformed
  answer) is logged and counted, and that follower's figures stay as they were: a balance
  is never zeroed because a read failed. A follower's assets are written together or not
  at all, so his cash and his base never come from different rounds.
- **zero is written only over a row**: an asset the follower never held and does not hold
  gets no row; one he held and no longer does is set to 0 (the read succeeded).

The runner serializes writes with the copy engine (one writer) and discards a snapshot
read while a copy settled (`LiveEngineRunner.sync_balances`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.services.aptos.client import FullnodeClient, FullnodeError
from oneclick_tui.services.engine.catalog import Catalog
from oneclick_tui.services.wallet import contracts
from oneclick_tui.stores.models import Position, Trade, Wallet

log = logging.getLogger("oneclick.engine.balances")

FA_METADATA: dict[str, str] = {
    "APT": contracts.APT_FA_METADATA,
    "USDC": contracts.USDC_FA_METADATA,
    "USDT": contracts.USDT_FA_METADATA,
}
"""Fungible-asset metadata objects of the assets whose balances we can read (contracts.py).
Other catalog assets (WETH, WBTC, ...) have no known address: they are not synced."""

Snapshot = dict[int, dict[str, Decimal]]
"""Per user id, per asset symbol: the on-chain balance in display units."""


@dataclass(frozen=True, slots=True)
class TrackedAsset:
    """One asset to read: its symbol, FA metadata address, decimals, and valuing pair."""

    symbol: str
    metadata: str
    decimals: int
    pair_id: int | None
    """The live pair where it is the base (so marks value it); None for quote cash."""


@dataclass
class SyncStats:
    """Counters for the logs and engine_status."""

    rounds: int = 0
    reads: int = 0
    node_errors: int = 0
    """Followers whose figures were kept because a read failed."""
    rows_written: int = 0
    discarded: int = 0
    """Snapshots dropped because a copy settled while they were read."""
    last_error: str | None = None


def tracked_assets(catalog: Catalog) -> list[TrackedAsset]:
    """The live pairs' assets that have a known FA address, with decimals from the pairs."""
    decimals: dict[str, int] = {}
    valued_by: dict[str, int] = {}
    for pair in sorted(catalog.pairs.values(), key=lambda p: p.id):
        spec = pair.spec
        for symbol, places in ((spec.base, spec.base_decimals), (spec.quote, spec.quote_decimals)):
            known = decimals.setdefault(symbol, places)
            if known != places:
                raise ValueError(f"{symbol} has {known} decimals in one pair, {places} in another")
        valued_by.setdefault(spec.base, pair.id)
    out = []
    for symbol in sorted(decimals):
        metadata = FA_METADATA.get(symbol)
        if metadata is None:
            log.warning("balance of %s not synced: no fungible-asset address known", symbol)
            continue
        out.append(TrackedAsset(symbol, metadata, decimals[symbol], valued_by.get(symbol)))
    return out


async def follower_accounts(
    sessions: async_sessionmaker[AsyncSession], keyed: Mapping[int, str] | None
) -> dict[int, str]:
    """Which account to read for each follower: the address of the key copies are signed
    with (`keyed`, user id -> address) when given, else each user's first wallet row."""
    if keyed:
        return dict(keyed)
    async with sessions() as session:
        query = select(Wallet.user_id, Wallet.address).order_by(Wallet.id)
        rows = (await session.execute(query)).all()
    accounts: dict[int, str] = {}
    for user_id, address in rows:
        accounts.setdefault(user_id, address)
    return accounts


async def users_with_completed_copies(
    sessions: async_sessionmaker[AsyncSession], lead_trade_id: int
) -> set[int]:
    """The followers whose copy of this lead trade completed (their wallets just moved)."""
    query = select(Trade.user_id).where(
        Trade.copy_of_trade_id == lead_trade_id, Trade.status == "completed"
    )
    async with sessions() as session:
        return {u for u in (await session.scalars(query)).all() if u is not None}


@dataclass
class ChainBalanceSync:
    """Reads followers' balances from the fullnode and writes them to `positions`."""

    client: FullnodeClient
    sessions: async_sessionmaker[AsyncSession]
    assets: list[TrackedAsset]
    accounts: dict[int, str]
    """user id -> the Aptos account his copies are signed from."""
    stats: SyncStats = field(default_factory=SyncStats)

    async def read(self, users: Iterable[int] | None = None) -> Snapshot:
        """Every asset of each follower (all, or `users`); a follower with a failed read is
        left out, so his figures stay as they are."""
        wanted = self.accounts if users is None else {
            u: self.accounts[u] for u in users if u in self.accounts
        }  # fmt: skip
        snapshot: Snapshot = {}
        for user_id, address in sorted(wanted.items()):
            figures: dict[str, Decimal] = {}
            try:
                for asset in self.assets:
                    units = await self.client.fa_balance(address, asset.metadata)
                    self.stats.reads += 1
                    figures[asset.symbol] = Decimal(units).scaleb(-asset.decimals)
            except FullnodeError as exc:
                self.stats.node_errors += 1
                self.stats.last_error = str(exc)
                log.warning(
                    "balance read for user %s (%s) failed, figures kept: %s", user_id, address, exc
                )
                continue
            snapshot[user_id] = figures
        self.stats.rounds += 1
        return snapshot

    async def write(self, snapshot: Snapshot, now: datetime | None = None) -> int:
        """Set each position's quantity to the chain's; returns the rows inserted or changed."""
        if not snapshot:
            return 0
        now = now or datetime.now(UTC)
        by_symbol = {a.symbol: a for a in self.assets}
        changed = 0
        async with self.sessions.begin() as session:
            query = select(Position).where(
                Position.user_id.in_(list(snapshot)), Position.asset.in_(list(by_symbol))
            )
            rows = {(p.user_id, p.asset): p for p in (await session.scalars(query)).all()}
            for user_id, figures in snapshot.items():
                for symbol, quantity in figures.items():
                    row = rows.get((user_id, symbol))
                    if row is None:
                        if quantity > 0:
                            session.add(_new_row(user_id, by_symbol[symbol], quantity, now))
                            changed += 1
                    elif row.quantity != quantity:
                        _set_quantity(row, quantity, now)
                        changed += 1
        self.stats.rows_written += changed
        return changed

    async def sync(self, users: Iterable[int] | None = None, now: datetime | None = None) -> int:
        """Read then write (callers that must not race the copy engine split the two)."""
        return await self.write(await self.read(users), now)


def _new_row(user_id: int, asset: TrackedAsset, quantity: Decimal, now: datetime) -> Position:
    """A holding first seen on chain: basis unknown, so 0 (see the module docstring)."""
    return Position(
        user_id=user_id,
        asset=asset.symbol,
        pair_id=asset.pair_id,
        quantity=quantity,
        average_cost=Decimal(0),
        realized_pnl=Decimal(0),
        last_updated_at=now,
    )


def _set_quantity(row: Position, quantity: Decimal, now: datetime) -> None:
    """The chain's quantity; basis and realized PnL stay; the last mark follows the size."""
    if quantity == 0:
        row.current_value = row.unrealized_pnl = Decimal(0)
    elif row.current_value is not None and row.quantity > 0:
        price = row.current_value / row.quantity
        row.current_value = quantity * price
        row.unrealized_pnl = quantity * (price - row.average_cost)
    row.quantity = quantity
    row.last_updated_at = now

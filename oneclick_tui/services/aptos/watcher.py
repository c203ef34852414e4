"""Follow one lead trader on chain: poll the account's transactions, emit its swaps.

Why account transactions on the fullnode and not the indexer: ``/v1/accounts/{a}/transactions``
is keyed by the sender's *sequence number*, which is dense (every committed transaction, failed
ones included, uses exactly one), so "next = last + 1" is a cursor that can prove a page is
complete; the indexer lags the node and would add a second service to trust. The limit: it
lists only transactions the trader *sent* (which is what a lead trade is), and not orderless
(nonce-based) transactions, which have no sequence number.

Exactly-once across restarts: the cursor row in ``chain_cursors`` (source
``aptos:account_tx:<address>``) holds the next sequence number. A page's trades are handed to
the handler *inside the same database transaction* that advances the cursor, so either both
commit or neither does; a crash in between re-reads the same page after restart.

A page that is not exactly "the transactions start, start+1, …" in the documented shape is
rejected whole, with a reason, counted, and retried at the next poll - never half-used.
Failed transactions (``success: false``) are skipped but still advance the cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain.market_events import LeadTrade
from oneclick_tui.services.aptos.client import FullnodeClient, FullnodeError, MalformedResponse
from oneclick_tui.services.aptos.swaps import SwapDecoder, normalize_address
from oneclick_tui.stores.models import ChainCursor

log = logging.getLogger(__name__)

TradeHandler = Callable[[AsyncSession, list[LeadTrade]], Awaitable[None]]
"""Receives a page's trades in the session that will also advance the cursor."""


@dataclass
class WatchStats:
    """Counters for `oneclick doctor` and the logs."""

    polls: int = 0
    pages: int = 0
    transactions: int = 0
    failed_skipped: int = 0
    trades: int = 0
    rejected_pages: Counter[str] = field(default_factory=Counter)
    handler_errors: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class PollResult:
    """What one poll did: trades delivered, the cursor after it, and an error if it stopped."""

    trades: list[LeadTrade]
    next_sequence: int
    error: str | None = None
    outage: bool = False
    """True when the node itself failed (unreachable, timed out, 429/5xx): polling other
    accounts now would fail the same way, so the caller backs off. A malformed page of one
    account is not an outage."""


class AccountWatcher:
    """Polls one account; not safe to run twice for the same address at the same time."""

    def __init__(
        self,
        client: FullnodeClient,
        sessions: async_sessionmaker[AsyncSession],
        decoder: SwapDecoder,
        address: str,
        *,
        page_size: int = 100,
        max_pages_per_poll: int = 10,
        replay_history: bool = False,
    ) -> None:
        """``replay_history`` False (the default): a new follow starts at the trader's current
        sequence number, so trades made before the follow are never copied."""
        self.client = client
        self.sessions = sessions
        self.decoder = decoder
        self.address = normalize_address(address)
        self.source = f"aptos:account_tx:{self.address}"
        self.page_size = page_size
        self.max_pages = max_pages_per_poll
        self.replay_history = replay_history
        self.stats = WatchStats()

    # ---------------------------------------------------------------- cursor
    async def next_sequence(self) -> int | None:
        """The first sequence number not yet processed (None before the first poll)."""
        async with self.sessions() as session:
            row = await session.get(ChainCursor, self.source)
        if row is None:
            return None
        return int(json.loads(row.cursor)["next_sequence_number"])

    async def begin(self) -> int:
        """The stored cursor, or where a new follow begins (and that is stored at once)."""
        start = await self.next_sequence()
        if start is not None:
            return start
        start = (
            0 if self.replay_history else await self.client.account_sequence_number(self.address)
        )
        async with self.sessions.begin() as session:
            await self._save(session, start, None)
        log.info("following %s from sequence number %d", self.address, start)
        return start

    async def _save(self, session: AsyncSession, next_seq: int, version: int | None) -> None:
        value = json.dumps({"next_sequence_number": next_seq, "last_version": version})
        row = await session.get(ChainCursor, self.source)
        now = datetime.now(UTC)
        if row is None:
            session.add(ChainCursor(source=self.source, cursor=value, updated_at=now))
        else:
            row.cursor, row.updated_at = value, now

    # ----------------------------------------------------------------- polls
    async def poll_once(self, handler: TradeHandler | None = None) -> PollResult:
        """Read pages from the cursor until caught up (or ``max_pages``); deliver and advance."""
        self.stats.polls += 1
        delivered: list[LeadTrade] = []
        try:
            start = await self.begin()
        except FullnodeError as exc:
            return self._stopped(-1, delivered, exc)
        for _ in range(self.max_pages):
            try:
                page = await self.client.account_transactions(self.address, start, self.page_size)
                checked = _check_page(page, start, self.address)
            except FullnodeError as exc:
                return self._stopped(start, delivered, exc)
            if not checked:
                break
            trades = self._decode(checked)
            last = checked[-1]
            async with self.sessions.begin() as session:
                if handler is not None and trades:
                    await handler(session, trades)
                await self._save(session, last.sequence + 1, last.version)
            self.stats.pages += 1
            self.stats.trades += len(trades)
            delivered.extend(trades)
            start = last.sequence + 1
            if len(checked) < self.page_size:
                break
        return PollResult(delivered, start)

    async def run(
        self,
        handler: TradeHandler | None = None,
        interval_s: float = 2.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Poll until ``stop`` is set. Node errors, and a handler or database failure (which
        rolls the page back), are logged; the next poll retries from the stored cursor."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.poll_once(handler)
            except Exception as exc:  # the page was rolled back; retrying is the only safe move
                self.stats.handler_errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("watch of %s: page not committed, will retry", self.address)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    def _decode(self, txs: list[_Tx]) -> list[LeadTrade]:
        trades: list[LeadTrade] = []
        for tx in txs:
            self.stats.transactions += 1
            if not tx.success:
                self.stats.failed_skipped += 1
                continue
            trade = self.decoder.decode_transaction(tx.raw, self.address)
            if trade is not None:
                trades.append(trade)
        return trades

    def _stopped(self, start: int, delivered: list[LeadTrade], exc: FullnodeError) -> PollResult:
        kind = "malformed" if isinstance(exc, MalformedResponse) else exc.code or "unreachable"
        self.stats.rejected_pages[kind] += 1
        self.stats.last_error = str(exc)
        level = logging.WARNING if exc.retryable else logging.ERROR
        log.log(level, "poll of %s stopped at sequence %d: %s", self.address, start, exc)
        outage = exc.retryable and not isinstance(exc, MalformedResponse)
        return PollResult(delivered, start, str(exc), outage)


@dataclass(frozen=True, slots=True)
class _Tx:
    sequence: int
    version: int
    success: bool
    raw: Mapping[str, Any]


_REQUIRED = ("type", "version", "hash", "sender", "sequence_number", "success", "timestamp")


def _check_page(page: list[dict[str, Any]], start: int, address: str) -> list[_Tx]:
    """The page as typed rows, or MalformedResponse naming the first thing that is wrong."""
    out: list[_Tx] = []
    for offset, tx in enumerate(page):
        where = f"transaction {offset} of page at {start}"
        missing = [k for k in _REQUIRED if k not in tx]
        if missing:
            raise MalformedResponse(f"{where}: missing {', '.join(missing)}")
        if tx["type"] != "user_transaction":
            raise MalformedResponse(f"{where}: type {tx['type']!r}, expected user_transaction")
        seq, version = _uint(tx["sequence_number"], where), _uint(tx["version"], where)
        _uint(tx["timestamp"], where)
        if seq != start + offset:
            raise MalformedResponse(f"{where}: sequence {seq}, expected {start + offset}")
        try:
            sender = normalize_address(tx["sender"])
        except ValueError as exc:
            raise MalformedResponse(f"{where}: {exc}") from None
        if sender != address:
            raise MalformedResponse(f"{where}: sender {tx['sender']} is not the watched account")
        if not isinstance(tx["success"], bool):
            raise MalformedResponse(f"{where}: success is not a boolean")
        if tx["success"] and not isinstance(tx.get("events"), list):
            raise MalformedResponse(f"{where}: events missing")
        out.append(_Tx(seq, version, tx["success"], tx))
    return out


def _uint(value: Any, where: str) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise MalformedResponse(f"{where}: {value!r} is not a u64 string")
    return int(value)

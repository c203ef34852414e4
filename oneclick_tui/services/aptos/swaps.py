"""Decode DEX swap events in fullnode transaction JSON into :class:`LeadTrade` facts.

Event layouts (module events, as the node's JSON renders them: every u64/u128 a decimal
string, every ``Object<Metadata>`` as ``{"inner": "0x…"}``, addresses in type strings in
short form, e.g. ``0x7730cd…::pool::SwapEvent`` for the package ``0x007730cd…``):

- Hyperion ``pool_v3::SwapEventV3`` {pool_id, from_token, to_token, amount_in, amount_out,
  fee_amount, protocol_fee_amount, pool_reserve_a, pool_reserve_b, current_tick, sqrt_price,
  active_liquidity}. Source: the on-chain module at 0x8b4a…e05c (decompiled ``pool_v3``);
  the Aptos explorer (aptos-labs/explorer, TransactionActionsRow) counts what the trader
  paid as ``amount_in + protocol_fee_amount``, and so do we.
- ThalaSwap v2 ``pool::SwapEvent``: {metadata: [{inner}], idx_in, idx_out, amount_in,
  amount_out, ...}; the assets swapped are ``metadata[idx_in]`` -> ``metadata[idx_out]``.
  Source: aptos-labs/explorer (parseThalaSwapV2Event). Only these fields are read; other
  fields the event carries are ignored.

Anything we cannot turn into a trade on one of our pairs (unknown token, malformed field,
unrelated swaps in one transaction) is rejected with a reason, logged and counted; nothing
here raises on bad chain data.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import pairwise
from typing import Any

from oneclick_tui.domain.market_events import LeadTrade, PairSpec, Side
from oneclick_tui.domain.units import from_base_units
from oneclick_tui.services.wallet.contracts import (
    APT_FA_METADATA,
    HYPERION_PACKAGE,
    THALASWAP_V2_PACKAGE,
    USDC_FA_METADATA,
    USDT_FA_METADATA,
)

log = logging.getLogger(__name__)


def normalize_address(address: object) -> str:
    """``0x`` + 64 lowercase hex digits; the node prints short and long forms interchangeably."""
    if not isinstance(address, str) or not address.startswith("0x"):
        raise ValueError(f"not an address: {address!r}")
    digits = address[2:].lower()
    if not 0 < len(digits) <= 64 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"not an address: {address!r}")
    return "0x" + digits.rjust(64, "0")


def normalize_type(type_tag: str) -> str:
    """An event type with its module address in long form (generic arguments dropped)."""
    head = type_tag.split("<", 1)[0]
    parts = head.split("::")
    if len(parts) != 3:
        raise ValueError(f"not a struct type: {type_tag!r}")
    return "::".join((normalize_address(parts[0]), parts[1], parts[2]))


HYPERION_SWAP_V3 = normalize_type(f"{HYPERION_PACKAGE}::pool_v3::SwapEventV3")
THALA_V2_SWAP = normalize_type(f"{THALASWAP_V2_PACKAGE}::pool::SwapEvent")


@dataclass(frozen=True, slots=True)
class Token:
    """A fungible asset we can price: its symbol and on-chain decimals."""

    symbol: str
    decimals: int


# Fungible-asset metadata addresses on mainnet. APT: the framework's paired FA (0xa, see
# contracts.py). USDC: Circle's native USDC; USDT: Tether's native USDt - both 6 decimals,
# as listed by BitGo's token statics and used by Aptos integrations (e.g. DEX indexers).
MAINNET_TOKENS: dict[str, Token] = {
    normalize_address(APT_FA_METADATA): Token("APT", 8),
    normalize_address(USDC_FA_METADATA): Token("USDC", 6),
    normalize_address(USDT_FA_METADATA): Token("USDT", 6),
}


class SwapRejected(ValueError):
    """One swap that cannot become a trade: ``kind`` is counted, the message is logged."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class RawSwap:
    """A swap as the event states it, amounts in base units of each token."""

    dex: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    fee_in: int  # fee charged in the input token (base units), 0 when the event omits it


@dataclass
class SwapDecoder:
    """Turns one trader's transactions into lead trades on the pairs we know.

    ``tokens`` maps FA metadata addresses to symbols; ``pairs`` are our pair specs (the
    base/quote symbols decide side and price). ``rejected`` counts reasons.
    """

    pairs: Iterable[PairSpec]
    tokens: Mapping[str, Token] = field(default_factory=lambda: dict(MAINNET_TOKENS))
    rejected: Counter[str] = field(default_factory=Counter)
    decoded: int = 0

    def __post_init__(self) -> None:
        self._tokens = {normalize_address(a): t for a, t in self.tokens.items()}
        self._pairs = {(p.base, p.quote): p for p in self.pairs}

    # ------------------------------------------------------------------ public
    def decode_transaction(self, tx: Mapping[str, Any], trader: str) -> LeadTrade | None:
        """The lead trade in one committed user transaction, or None (no swap / rejected).

        A routed swap (A->B->C in one transaction) becomes one trade A->C; swaps that do not
        chain are rejected, since one transaction maps to one lead trade (tx hash is unique).
        """
        swaps: list[RawSwap] = []
        for index, event in enumerate(tx.get("events") or ()):
            try:
                swap = self._swap_from_event(event)
            except SwapRejected as exc:
                self._reject(tx, exc, f"event {index}")
                return None
            if swap is not None:
                swaps.append(swap)
        if not swaps:
            return None
        try:
            return self._lead_trade(tx, trader, _chain(swaps))
        except SwapRejected as exc:
            self._reject(tx, exc)
            return None

    # ---------------------------------------------------------------- decoding
    def _swap_from_event(self, event: Any) -> RawSwap | None:
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            raise SwapRejected("malformed", "event without a type")
        try:
            kind = normalize_type(event["type"])
        except ValueError:
            return None  # a primitive or malformed type string: not a swap of ours
        if kind not in (HYPERION_SWAP_V3, THALA_V2_SWAP):
            return None
        data = event.get("data")
        if not isinstance(data, Mapping):
            raise SwapRejected("malformed", f"{kind}: data is not an object")
        if kind == HYPERION_SWAP_V3:
            return RawSwap(
                "hyperion",
                _object_addr(data, "from_token"),
                _object_addr(data, "to_token"),
                _u64(data, "amount_in") + _u64(data, "protocol_fee_amount"),
                _u64(data, "amount_out"),
                _u64(data, "fee_amount"),
            )
        metadata = data.get("metadata")
        if not isinstance(metadata, list):
            raise SwapRejected("malformed", "thala SwapEvent: metadata is not a list")
        idx_in, idx_out = _u64(data, "idx_in"), _u64(data, "idx_out")
        if idx_in >= len(metadata) or idx_out >= len(metadata) or idx_in == idx_out:
            raise SwapRejected("malformed", f"thala SwapEvent: asset indexes {idx_in}->{idx_out}")
        fee = _u64(data, "total_fee_amount") if "total_fee_amount" in data else 0
        return RawSwap(
            "thala",
            _inner(metadata[idx_in], "metadata[idx_in]"),
            _inner(metadata[idx_out], "metadata[idx_out]"),
            _u64(data, "amount_in"),
            _u64(data, "amount_out"),
            fee,
        )

    def _token(self, address: str) -> Token:
        token = self._tokens.get(address)
        if token is None:
            raise SwapRejected("unknown_token", address)
        return token

    def _lead_trade(self, tx: Mapping[str, Any], trader: str, swap: RawSwap) -> LeadTrade:
        t_in, t_out = self._token(swap.token_in), self._token(swap.token_out)
        if (t_out.symbol, t_in.symbol) in self._pairs:  # paid quote, got base
            spec, side = self._pairs[(t_out.symbol, t_in.symbol)], Side.BUY
            base_units, quote_units = swap.amount_out, swap.amount_in
        elif (t_in.symbol, t_out.symbol) in self._pairs:  # paid base, got quote
            spec, side = self._pairs[(t_in.symbol, t_out.symbol)], Side.SELL
            base_units, quote_units = swap.amount_in, swap.amount_out
        else:
            raise SwapRejected("unknown_pair", f"{t_in.symbol}->{t_out.symbol}")
        if base_units <= 0 or quote_units <= 0:
            raise SwapRejected("empty_swap", f"{swap.amount_in}->{swap.amount_out}")
        amount = from_base_units(base_units, spec.base_decimals)
        notional = from_base_units(quote_units, spec.quote_decimals)
        fee_units = from_base_units(swap.fee_in, t_in.decimals)
        price = _round_against(notional / amount, spec.tick_size, side)
        fee = fee_units if side is Side.BUY else fee_units * price  # always in quote
        trade = LeadTrade(
            trader_address=normalize_address(trader),
            pair=spec.symbol,
            side=side,
            amount=amount,
            price=price,
            fee=fee,
            tx_hash=_str(tx, "hash"),
            version=_u64(tx, "version"),
            at=_timestamp(tx),
        )
        self.decoded += 1
        return trade

    def _reject(self, tx: Mapping[str, Any], exc: SwapRejected, where: str = "") -> None:
        self.rejected[exc.kind] += 1
        log.warning("swap rejected in tx %s %s: %s", tx.get("hash", "?"), where, exc)


def _chain(swaps: list[RawSwap]) -> RawSwap:
    """Collapse a route; the hops must hand each one's output to the next one's input."""
    for prev, nxt in pairwise(swaps):
        if prev.token_out != nxt.token_in:
            raise SwapRejected("unchained_swaps", f"{len(swaps)} swaps that do not chain")
    first, last = swaps[0], swaps[-1]
    return RawSwap(first.dex, first.token_in, last.token_out, first.amount_in,
                   last.amount_out, first.fee_in)  # fmt: skip


def _round_against(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """A buyer's price rounds up, a seller's down: never flatter the lead's fill."""
    mode = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding=mode) * tick


def _u64(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, str) or not value.isdigit():  # the API sends u64 as "123"
        raise SwapRejected("malformed", f"{key} is not an unsigned integer string: {value!r}")
    number = int(value)
    if number >= 2**64:
        raise SwapRejected("malformed", f"{key} exceeds u64: {value}")
    return number


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise SwapRejected("malformed", f"{key} missing")
    return value


def _inner(obj: Any, what: str) -> str:
    if not isinstance(obj, Mapping):
        raise SwapRejected("malformed", f"{what} is not an object reference")
    try:
        return normalize_address(obj.get("inner"))
    except ValueError as exc:
        raise SwapRejected("malformed", f"{what}: {exc}") from None


def _object_addr(data: Mapping[str, Any], key: str) -> str:
    return _inner(data.get(key), key)


def _timestamp(tx: Mapping[str, Any]) -> datetime:
    """The block timestamp: microseconds since the epoch, as a string."""
    micros = _u64(tx, "timestamp")
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)

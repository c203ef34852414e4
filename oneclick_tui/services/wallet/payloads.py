"""Entry-function payloads for transfers and DEX swaps, amounts already in base units.

Amounts arrive as integers (convert with `oneclick_tui.domain.units` first); the swap
builders take the user's slippage bound and compute the minimum output here, so no caller
can forget it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from aptos_sdk.account_address import AccountAddress
from aptos_sdk.transactions import EntryFunction, ModuleId, TransactionPayload
from aptos_sdk.type_tag import StructTag, TypeTag

from oneclick_tui.domain.units import U64_MAX, min_out_units
from oneclick_tui.services.wallet import contracts as c

PoolKind = Literal["weighted", "stable"]

_FA_METADATA_TAG = TypeTag(StructTag.from_str(c.FA_METADATA_TYPE))
_MODULES: dict[str, ModuleId] = {}


def _module(name: str) -> ModuleId:
    module = _MODULES.get(name)
    if module is None:
        address, mod = name.split("::")
        module = ModuleId(AccountAddress.from_str_relaxed(address), mod)
        _MODULES[name] = module
    return module


def _addr(value: str | AccountAddress) -> bytes:
    if isinstance(value, AccountAddress):
        return value.address
    return _parse_addr(value)


@lru_cache(maxsize=4096)
def _parse_addr(value: str) -> bytes:
    """Token, pool and recipient addresses repeat on every copy: parse each once."""
    return AccountAddress.from_str_relaxed(value).address


def _u8(value: int) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"u8 out of range: {value}")
    return value.to_bytes(1, "little")


def _u64(value: int) -> bytes:
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"u64 out of range: {value}")
    return value.to_bytes(8, "little")


def _u128(value: int) -> bytes:
    if not 0 <= value < 2**128:
        raise ValueError(f"u128 out of range: {value}")
    return value.to_bytes(16, "little")


def _entry(
    module: str, function: str, args: list[bytes], ty_args: list[TypeTag] | None = None
) -> TransactionPayload:
    return TransactionPayload(EntryFunction(_module(module), function, ty_args or [], args))


def apt_transfer(to: str | AccountAddress, amount_octas: int) -> TransactionPayload:
    """0x1::aptos_account::transfer: APT, creating the recipient account if needed."""
    return _entry(c.APTOS_ACCOUNT_MODULE, "transfer", [_addr(to), _u64(amount_octas)])


def fa_transfer(metadata: str, to: str | AccountAddress, amount: int) -> TransactionPayload:
    """0x1::primary_fungible_store::transfer<Metadata> for a fungible asset."""
    return _entry(
        c.PRIMARY_FUNGIBLE_STORE_MODULE,
        "transfer",
        [_addr(metadata), _addr(to), _u64(amount)],
        [_FA_METADATA_TAG],
    )


def hyperion_sqrt_price_limit(from_token: str, to_token: str) -> int:
    """No-price-limit bound for a swap direction (min-out protects the user instead)."""
    return (
        c.HYPERION_MAX_SQRT_PRICE
        if _addr(from_token) < _addr(to_token)
        else c.HYPERION_MIN_SQRT_PRICE
    )


def hyperion_exact_input(
    *,
    from_token: str,
    to_token: str,
    amount_in: int,
    expected_out: int,
    slippage: Decimal,
    recipient: str | AccountAddress,
    deadline_secs: int,
    fee_tier: int = 1,
    sqrt_price_limit: int | None = None,
) -> TransactionPayload:
    """Hyperion router_v3::exact_input_swap_entry with min-out from the slippage bound."""
    limit = (
        hyperion_sqrt_price_limit(from_token, to_token)
        if sqrt_price_limit is None
        else sqrt_price_limit
    )
    args = [
        _u8(fee_tier),
        _u64(amount_in),
        _u64(min_out_units(expected_out, slippage)),
        _u128(limit),
        _addr(from_token),
        _addr(to_token),
        _addr(recipient),
        _u64(deadline_secs),
    ]
    return _entry(c.HYPERION_ROUTER_MODULE, c.HYPERION_EXACT_INPUT, args)


def thala_swap_exact_in(
    *,
    pool: str,
    asset_in: str,
    asset_out: str,
    amount_in: int,
    expected_out: int,
    slippage: Decimal,
    pool_kind: PoolKind = "weighted",
) -> TransactionPayload:
    """ThalaSwap v2 pool::swap_exact_in_{weighted,stable}_entry with min-out from slippage."""
    args = [
        _addr(pool),
        _addr(asset_in),
        _u64(amount_in),
        _addr(asset_out),
        _u64(min_out_units(expected_out, slippage)),
    ]
    return _entry(c.THALASWAP_V2_POOL_MODULE, c.THALA_SWAP_EXACT_IN[pool_kind], args)

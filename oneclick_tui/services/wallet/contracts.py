"""On-chain addresses and entry-function ABIs OneClick signs against, with where each is from.

Keep every third-party address here so a redeploy is a one-line, reviewable change.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Aptos framework (0x1), stable across networks --------------------------------------
# aptos_account::transfer(to: address, amount: u64)                                (APT)
# primary_fungible_store::transfer<T: key>(metadata: Object<T>, recipient: address,
#                                          amount: u64), T = 0x1::fungible_asset::Metadata
# Source: aptos-core aptos-move/framework/aptos-framework/sources/{aptos_account,
#         primary_fungible_store}.move
APTOS_ACCOUNT_MODULE = "0x1::aptos_account"
PRIMARY_FUNGIBLE_STORE_MODULE = "0x1::primary_fungible_store"
FA_METADATA_TYPE = "0x1::fungible_asset::Metadata"
APT_FA_METADATA = "0x" + "0" * 63 + "a"  # APT's paired fungible-asset metadata object (0xa)
# Circle's native USDC on mainnet (6 decimals): a public token address, not a key.
USDC_FA_METADATA = "0xbae207659db88bea0cbead6da0ed00aac12edcdda169e591cd41c94180b46f3b"
# Tether's native USDt on mainnet (6 decimals).
USDT_FA_METADATA = "0x357b0b74bc833e95a115ad22604854d6b0fca151cecd94111770e5d6ffc9dc2b"


# --- Hyperion CLMM (mainnet) --------------------------------------------------------------
# Package address: the `contractAddress` in Hyperion's TS SDK config and the account holding
# the on-chain pool_v3/router_v3 modules (public integrations call
# 0x8b4a…e05c::router_v3::get_amount_by_liquidity / pool_v3::all_pools).
# Entry ABI from Hyperion's published Move interface (hyperion_interface_addr::router_v3):
#   exact_input_swap_entry(user: &signer, fee_tier: u8, amount_in: u64,
#       amount_out_min: u64, sqrt_price_limit: u128, from_token: Object<Metadata>,
#       to_token: Object<Metadata>, recipient: address, deadline: u64)
# sqrt_price_limit bounds (x64 fixed point), as used by public integrations: the maximum when
# utils::is_sorted(from, to), else the minimum ("ignore price impact"; min-out still binds).
HYPERION_PACKAGE = "0x8b4a2c4bb53857c718a04c020b98f8c2e1f99a68b0f57389a8bf5434cd22e05c"
HYPERION_ROUTER_MODULE = f"{HYPERION_PACKAGE}::router_v3"
HYPERION_EXACT_INPUT = "exact_input_swap_entry"
HYPERION_MIN_SQRT_PRICE = 4295048016
HYPERION_MAX_SQRT_PRICE = 79226673515401279992447579055


# --- ThalaSwap v2 (mainnet) ---------------------------------------------------------------
# Address: ThalaLabs/integrate-thala README ("ThalaSwapV2" account 0x007730cd…9bb5).
# Entry ABI from its thalaswap_v2_interface/sources/pool.move:
#   swap_exact_in_weighted_entry / swap_exact_in_stable_entry(user: &signer,
#       pool_obj: Object<Pool>, asset_metadata_in: Object<Metadata>, amount_in: u64,
#       asset_metadata_out: Object<Metadata>, min_amount_out: u64)
THALASWAP_V2_PACKAGE = "0x007730cd28ee1cdc9e999336cbc430f99e7c44397c0aa77516f6f23a78559bb5"
THALASWAP_V2_POOL_MODULE = f"{THALASWAP_V2_PACKAGE}::pool"
THALA_SWAP_EXACT_IN = {
    "weighted": "swap_exact_in_weighted_entry",
    "stable": "swap_exact_in_stable_entry",
}


@dataclass(frozen=True)
class EntryAbi:
    """Module, function and parameter kinds (after the &signer) of one entry function."""

    module: str
    function: str
    params: tuple[str, ...]


ABIS: dict[str, EntryAbi] = {
    "apt_transfer": EntryAbi(APTOS_ACCOUNT_MODULE, "transfer", ("address", "u64")),
    "fa_transfer": EntryAbi(
        PRIMARY_FUNGIBLE_STORE_MODULE, "transfer", ("object", "address", "u64")
    ),
    "hyperion_exact_input": EntryAbi(
        HYPERION_ROUTER_MODULE,
        HYPERION_EXACT_INPUT,
        ("u8", "u64", "u64", "u128", "object", "object", "address", "u64"),
    ),
    "thala_swap_exact_in": EntryAbi(
        THALASWAP_V2_POOL_MODULE,
        "swap_exact_in_*_entry",
        ("object", "object", "u64", "object", "u64"),
    ),
}

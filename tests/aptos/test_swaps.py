"""Swap events in fullnode transaction JSON -> LeadTrade.

The transactions in tests/fixtures/aptos/account_transactions.json are hand-built stand-ins
(no Aptos node is reachable from this machine) in the exact shape of the Aptos node API's
``user_transaction`` (aptos-core api/doc/spec.yaml: u64 as strings, ``timestamp`` in µs,
module events with guid 0/0x0). Event data layouts: Hyperion ``pool_v3::SwapEventV3`` as
declared by the on-chain module at 0x8b4a…e05c; ThalaSwap v2 ``pool::SwapEvent`` with the
fields the Aptos explorer (aptos-labs/explorer) reads - only those, since the others could not
be verified without a node.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oneclick_tui.domain.market_events import Side
from oneclick_tui.services.aptos.swaps import (
    HYPERION_SWAP_V3,
    THALA_V2_SWAP,
    SwapDecoder,
    normalize_address,
    normalize_type,
)
from oneclick_tui.services.sim.pairs import PAIRS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aptos"
LEAD = "0x5a1ec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee5eed01"
USDC = "0xbae207659db88bea0cbead6da0ed00aac12edcdda169e591cd41c94180b46f3b"


@pytest.fixture
def txs() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "account_transactions.json").read_text())


@pytest.fixture
def decoder() -> SwapDecoder:
    return SwapDecoder(PAIRS)


def test_hyperion_buy_becomes_a_lead_trade_priced_against_the_trader(
    txs: list[dict[str, Any]], decoder: SwapDecoder
) -> None:
    trade = decoder.decode_transaction(txs[0], LEAD)
    assert trade is not None
    assert (trade.pair, trade.side) == ("APT/USDC", Side.BUY)
    assert trade.amount == Decimal("11.83431952")  # 1_183_431_952 octas, converted once
    # paid 99.99 + 0.01 protocol fee = 100 USDC; 100 / 11.83431952 = 8.45000000507… -> up
    assert trade.price == Decimal("8.4501")
    assert trade.fee == Decimal("0.05")
    assert trade.tx_hash == txs[0]["hash"]
    assert trade.version == 2_900_000_101
    assert trade.at == datetime(2026, 11, 24, 20, 0, 0, 123_456, tzinfo=UTC)
    assert trade.trader_address == LEAD


def test_thala_v2_sell_uses_metadata_indexes_and_rounds_down(
    txs: list[dict[str, Any]], decoder: SwapDecoder
) -> None:
    trade = decoder.decode_transaction(txs[2], LEAD)
    assert trade is not None
    assert (trade.pair, trade.side, trade.amount) == ("APT/USDT", Side.SELL, Decimal(5))
    assert trade.price == Decimal("8.448")  # 42.24 / 5, exactly on tick
    assert trade.fee == 0  # this event shape carries no fee field we read


def test_hyperion_sell_counts_protocol_fee_as_paid_and_fee_in_quote(
    txs: list[dict[str, Any]], decoder: SwapDecoder
) -> None:
    trade = decoder.decode_transaction(txs[5], LEAD)
    assert trade is not None
    assert (trade.pair, trade.side, trade.amount) == ("APT/USDC", Side.SELL, Decimal(2))
    assert trade.price == Decimal("8.445")  # 16.89 / 2
    assert trade.fee == Decimal("0.001") * Decimal("8.445")  # 100_000 octas of APT in USDC


def test_transfer_without_swap_is_not_a_trade(
    txs: list[dict[str, Any]], decoder: SwapDecoder
) -> None:
    assert decoder.decode_transaction(txs[3], LEAD) is None
    assert not decoder.rejected


def test_unknown_token_is_rejected_with_reason_and_counted(
    txs: list[dict[str, Any]], decoder: SwapDecoder, caplog: pytest.LogCaptureFixture
) -> None:
    assert decoder.decode_transaction(txs[4], LEAD) is None
    assert decoder.rejected == {"unknown_token": 1}
    assert "unknown_token" in caplog.text and txs[4]["hash"] in caplog.text


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("amount_out", "12.5", "malformed"),
        ("amount_out", "-5", "malformed"),
        ("amount_in", 100, "malformed"),  # a JSON number where the API sends a string
        ("amount_out", str(2**64), "malformed"),
        ("from_token", {"inner": "not-an-address"}, "malformed"),
        ("amount_out", "0", "empty_swap"),
    ],
)
def test_bad_event_fields_are_rejected_not_raised(
    txs: list[dict[str, Any]], decoder: SwapDecoder, field: str, value: object, kind: str
) -> None:
    tx = copy.deepcopy(txs[0])
    tx["events"][1]["data"][field] = value
    assert decoder.decode_transaction(tx, LEAD) is None
    assert decoder.rejected == {kind: 1}


def test_event_types_match_in_short_and_long_address_form() -> None:
    # The node prints 0x007730cd… as 0x7730cd…; both must be recognised.
    assert (
        normalize_type(
            "0x7730cd28ee1cdc9e999336cbc430f99e7c44397c0aa77516f6f23a78559bb5::pool::SwapEvent"
        )
        == THALA_V2_SWAP
    )
    assert normalize_type(THALA_V2_SWAP) == THALA_V2_SWAP
    assert HYPERION_SWAP_V3.endswith("::pool_v3::SwapEventV3")
    assert normalize_address("0xa") == "0x" + "0" * 63 + "a"
    with pytest.raises(ValueError):
        normalize_address("0xZZ")


def _hop(fr: str, to: str, amount_in: str, amount_out: str) -> dict[str, Any]:
    return {
        "guid": {"creation_number": "0", "account_address": "0x0"},
        "sequence_number": "0",
        "type": HYPERION_SWAP_V3,
        "data": {
            "pool_id": "0x1",
            "from_token": {"inner": fr},
            "to_token": {"inner": to},
            "amount_in": amount_in,
            "amount_out": amount_out,
            "fee_amount": "0",
            "protocol_fee_amount": "0",
        },
    }


def test_routed_swap_collapses_to_one_trade_and_unrelated_swaps_are_rejected(
    txs: list[dict[str, Any]], decoder: SwapDecoder
) -> None:
    usdt = "0x357b0b74bc833e95a115ad22604854d6b0fca151cecd94111770e5d6ffc9dc2b"
    routed = copy.deepcopy(txs[0])
    # USDT -> USDC -> APT: one buy of APT/USDT
    routed["events"] = [
        _hop(usdt, USDC, "84500000", "84490000"),
        _hop(USDC, "0xa", "84490000", "1000000000"),
    ]
    trade = decoder.decode_transaction(routed, LEAD)
    assert trade is not None and (trade.pair, trade.side) == ("APT/USDT", Side.BUY)
    assert (trade.amount, trade.price) == (Decimal(10), Decimal("8.45"))

    unrelated = copy.deepcopy(routed)
    unrelated["events"][1] = _hop(usdt, "0xa", "1", "1")
    assert decoder.decode_transaction(unrelated, LEAD) is None
    assert decoder.rejected == {"unchained_swaps": 1}

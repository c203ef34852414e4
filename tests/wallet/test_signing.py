"""Local signing: our bytes equal aptos-sdk's, decode independently, and hash as the chain does."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from aptos_sdk.account_address import AccountAddress
from aptos_sdk.bcs import Serializer
from aptos_sdk.ed25519 import PublicKey, Signature
from aptos_sdk.transactions import (
    EntryFunction,
    SignedTransaction,
    TransactionArgument,
    TransactionPayload,
)
from aptos_sdk.type_tag import StructTag, TypeTag

from oneclick_tui.services.wallet import contracts, payloads
from oneclick_tui.services.wallet.keys import generate_key, parse_private_key
from oneclick_tui.services.wallet.signing import (
    TxParams,
    build_raw_transaction,
    decode_signed,
    sign_payload,
    sign_raw,
    simulation_bcs,
    transaction_hash,
)

USDC = "0xbae207659db88bea0cbead6da0ed00aac12edcdda169e591cd41c94180b46f3b"
PARAMS = TxParams(sequence_number=7, chain_id=2, expiration_timestamp_secs=1_900_000_000)


def _docs_hash(signed_bcs: bytes) -> str:
    """The recipe in the Aptos docs ("Calculating the Signed Transaction Hash")."""
    prefix = hashlib.sha3_256(b"APTOS::Transaction").digest()
    return "0x" + hashlib.sha3_256(prefix + bytes([0]) + signed_bcs).hexdigest()


def test_signed_bytes_match_the_sdk_and_verify() -> None:
    key = generate_key()
    raw = build_raw_transaction(key.address, payloads.apt_transfer("0x1", 150_000_000), PARAMS)
    ours = sign_raw(key, raw)
    reference = SignedTransaction(raw, raw.sign(key.signing_key()))
    assert ours.bcs == reference.bytes()

    decoded = decode_signed(ours.bcs)
    assert decoded.verify()
    assert decoded.transaction == raw
    assert ours.hash == _docs_hash(ours.bcs) == transaction_hash(ours.bcs)


def test_known_vector_hash_is_stable() -> None:
    # Fixed key and fields: guards against silent changes in serialization.
    key = parse_private_key("0x" + "01" * 32)
    signed = sign_payload(key, payloads.apt_transfer("0x2", 1), PARAMS)
    again = sign_payload(key, payloads.apt_transfer("0x2", 1), PARAMS)
    assert signed == again  # Ed25519 is deterministic
    assert signed.hash == _docs_hash(signed.bcs)


def test_tampered_transaction_fails_verification() -> None:
    key = generate_key()
    signed = sign_payload(key, payloads.apt_transfer("0x1", 5), PARAMS)
    tampered = bytearray(signed.bcs)
    tampered[32] ^= 0x01  # lowest byte of the sequence number (after the 32-byte sender)
    assert not decode_signed(bytes(tampered)).verify()


def test_simulation_body_has_an_invalid_signature() -> None:
    key = generate_key()
    raw = build_raw_transaction(key.address, payloads.apt_transfer("0x1", 5), PARAMS)
    body = decode_signed(simulation_bcs(key.public_key.to_crypto_bytes(), raw))
    assert body.transaction == raw
    assert not body.verify()


def test_refuses_to_sign_for_another_sender() -> None:
    raw = build_raw_transaction("0x1", payloads.apt_transfer("0x2", 5), PARAMS)
    with pytest.raises(ValueError, match="is not the key's account"):
        sign_raw(generate_key(), raw)


def _sdk_entry(
    module: str, function: str, ty: list[TypeTag], args: list[TransactionArgument]
) -> TransactionPayload:
    return TransactionPayload(EntryFunction.natural(module, function, ty, args))


def test_payload_encodings_match_sdk_transaction_arguments() -> None:
    to = AccountAddress.from_str_relaxed("0x1234")
    assert payloads.apt_transfer(to, 42) == _sdk_entry(
        "0x1::aptos_account",
        "transfer",
        [],
        [TransactionArgument(to, Serializer.struct), TransactionArgument(42, Serializer.u64)],
    )
    metadata = AccountAddress.from_str_relaxed(USDC)
    assert payloads.fa_transfer(USDC, to, 9) == _sdk_entry(
        "0x1::primary_fungible_store",
        "transfer",
        [TypeTag(StructTag.from_str("0x1::fungible_asset::Metadata"))],
        [
            TransactionArgument(metadata, Serializer.struct),
            TransactionArgument(to, Serializer.struct),
            TransactionArgument(9, Serializer.u64),
        ],
    )


def test_hyperion_swap_payload_carries_min_out_from_slippage() -> None:
    payload = payloads.hyperion_exact_input(
        from_token=contracts.APT_FA_METADATA,
        to_token=USDC,
        amount_in=100_000_000,
        expected_out=5_000_000,
        slippage=Decimal("0.01"),
        recipient="0x1234",
        deadline_secs=1_900_000_000,
        fee_tier=1,
    )
    fn = payload.value
    assert str(fn.module.address) == contracts.HYPERION_PACKAGE
    assert (fn.module.name, fn.function) == ("router_v3", "exact_input_swap_entry")
    assert len(fn.args) == 8
    assert fn.args[0] == b"\x01"
    assert int.from_bytes(fn.args[1], "little") == 100_000_000
    assert int.from_bytes(fn.args[2], "little") == 4_950_000  # 5_000_000 * (1 - 1%)
    assert len(fn.args[3]) == 16  # u128 sqrt price limit
    assert fn.args[4] == AccountAddress.from_str_relaxed("0xa").address


@pytest.mark.parametrize("kind", ["weighted", "stable"])
def test_thala_swap_payload(kind: str) -> None:
    payload = payloads.thala_swap_exact_in(
        pool="0xa928222429caf1924c944973c2cd9fc306ec41152ba4de27a001327021a4dff7",
        asset_in="0xa",
        asset_out=USDC,
        amount_in=10,
        expected_out=1000,
        slippage=Decimal("0.005"),
        pool_kind=kind,  # type: ignore[arg-type]
    )
    fn = payload.value
    assert str(fn.module) == f"{contracts.THALASWAP_V2_PACKAGE}::pool"
    assert fn.function == f"swap_exact_in_{kind}_entry"
    assert int.from_bytes(fn.args[4], "little") == 995


def test_ed25519_authenticator_layout() -> None:
    key = generate_key()
    signed = sign_payload(key, payloads.apt_transfer("0x1", 1), PARAMS)
    auth = decode_signed(signed.bcs).authenticator.authenticator
    assert auth.public_key == PublicKey.from_str(key.public_key_hex)
    assert isinstance(auth.signature, Signature)

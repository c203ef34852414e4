"""Build, sign and serialize Aptos user transactions locally, and compute their hash.

The signing message is sha3-256("APTOS::RawTransaction") || BCS(RawTransaction), signed with
Ed25519. The hash the chain reports is sha3-256(sha3-256("APTOS::Transaction") || 0x00 ||
BCS(SignedTransaction)), 0x00 being the UserTransaction variant (Aptos docs, "Calculating the
Signed Transaction Hash"). We serialize the raw transaction once and append the
authenticator bytes ourselves, which is what keeps signing fast; tests check the bytes
against aptos-sdk's own SignedTransaction.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from aptos_sdk.account_address import AccountAddress
from aptos_sdk.bcs import Deserializer, Serializer
from aptos_sdk.transactions import RawTransaction, SignedTransaction, TransactionPayload

from oneclick_tui.services.wallet.keys import WalletKey

RAW_TX_PREFIX = hashlib.sha3_256(b"APTOS::RawTransaction").digest()
TX_HASH_PREFIX = hashlib.sha3_256(b"APTOS::Transaction").digest()
USER_TRANSACTION_VARIANT = b"\x00"
ED25519_AUTHENTICATOR = b"\x00"  # TransactionAuthenticator::Ed25519
_PUBKEY_LEN = b"\x20"  # uleb128(32)
_SIG_LEN = b"\x40"  # uleb128(64)

DEFAULT_MAX_GAS = 200_000
DEFAULT_GAS_UNIT_PRICE = 100
DEFAULT_TTL_SECS = 60
CHAIN_IDS = {"mainnet": 1, "testnet": 2}


@dataclass(frozen=True)
class TxParams:
    """Everything in a RawTransaction except sender and payload."""

    sequence_number: int
    chain_id: int
    expiration_timestamp_secs: int
    max_gas_amount: int = DEFAULT_MAX_GAS
    gas_unit_price: int = DEFAULT_GAS_UNIT_PRICE

    @classmethod
    def expiring_in(
        cls, sequence_number: int, chain_id: int, ttl_secs: int = DEFAULT_TTL_SECS, **kw: int
    ) -> TxParams:
        return cls(sequence_number, chain_id, int(time.time()) + ttl_secs, **kw)


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction ready to submit: its BCS bytes and the hash the chain will report."""

    bcs: bytes
    hash: str
    sender: str
    sequence_number: int

    @property
    def bcs_hex(self) -> str:
        return "0x" + self.bcs.hex()


def build_raw_transaction(
    sender: str | AccountAddress, payload: TransactionPayload, params: TxParams
) -> RawTransaction:
    """The unsigned transaction."""
    address = (
        sender if isinstance(sender, AccountAddress) else AccountAddress.from_str_relaxed(sender)
    )
    return RawTransaction(
        address,
        params.sequence_number,
        payload,
        params.max_gas_amount,
        params.gas_unit_price,
        params.expiration_timestamp_secs,
        params.chain_id,
    )


def raw_bytes(raw: RawTransaction) -> bytes:
    ser = Serializer()
    raw.serialize(ser)
    return ser.output()


def transaction_hash(signed_bcs: bytes) -> str:
    """The on-chain hash of a user transaction from its SignedTransaction BCS bytes."""
    return (
        "0x" + hashlib.sha3_256(TX_HASH_PREFIX + USER_TRANSACTION_VARIANT + signed_bcs).hexdigest()
    )


def _assemble(raw: bytes, public_key: bytes, signature: bytes) -> bytes:
    return raw + ED25519_AUTHENTICATOR + _PUBKEY_LEN + public_key + _SIG_LEN + signature


def sign_raw(key: WalletKey, raw: RawTransaction) -> SignedTx:
    """Sign locally; refuses a key that is not the sender's."""
    if "0x" + raw.sender.address.hex() != key.address:
        raise ValueError(f"transaction sender {raw.sender} is not the key's account {key.address}")
    body = raw_bytes(raw)
    signature = key.sign(RAW_TX_PREFIX + body)
    signed = _assemble(body, key.public_key.to_crypto_bytes(), signature)
    return SignedTx(signed, transaction_hash(signed), key.address, raw.sequence_number)


def sign_payload(key: WalletKey, payload: TransactionPayload, params: TxParams) -> SignedTx:
    """Build and sign in one step (the copy-trade hot path)."""
    return sign_raw(key, build_raw_transaction(key.account_address, payload, params))


def simulation_bcs(public_key: bytes, raw: RawTransaction) -> bytes:
    """BCS for /transactions/simulate: same transaction with an all-zero (invalid) signature.

    The simulate endpoint rejects a valid signature, so a simulated body can never be
    replayed as a real submission.
    """
    return _assemble(raw_bytes(raw), public_key, b"\x00" * 64)


def decode_signed(signed_bcs: bytes) -> SignedTransaction:
    """Parse SignedTransaction BCS with aptos-sdk (independent of how we built it)."""
    der = Deserializer(signed_bcs)
    signed = SignedTransaction.deserialize(der)
    if der.remaining() != 0:
        raise ValueError(f"{der.remaining()} trailing bytes after the SignedTransaction")
    return signed

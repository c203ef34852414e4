"""Parse, generate and check Ed25519 account keys without ever echoing the secret.

Accepted forms: hex `0x<64 hex>` (or bare 64 hex) and AIP-80 `ed25519-priv-0x<64 hex>`.
We parse the hex ourselves rather than through aptos-sdk's `from_str`, which prints an
AIP-80 advice line to stdout for non-AIP-80 input; and every error message describes the
problem (length, characters) but never contains the text the user gave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aptos_sdk import ed25519
from aptos_sdk.account_address import AccountAddress, ParseAddressError
from nacl.signing import SigningKey

AIP80_PREFIX = "ed25519-priv-"
_OTHER_AIP80 = re.compile(r"^[a-z0-9]+-priv-", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]*$")
KEY_BYTES = 32


class WalletKeyError(ValueError):
    """A key or address is not acceptable; the message is one line and holds no secret."""


def normalize_address(text: str) -> str:
    """An account address in its canonical long form (0x + 64 hex), or `WalletKeyError`."""
    candidate = text.strip()
    if not candidate.startswith("0x"):
        candidate = "0x" + candidate
    digits = candidate[2:]
    if not digits or len(digits) > 64 or not _HEX.match(digits):
        raise WalletKeyError(f"not an Aptos account address: {text.strip()[:80]!r}")
    try:
        address = AccountAddress.from_str_relaxed(candidate)
    except (ParseAddressError, ValueError):
        raise WalletKeyError(f"not an Aptos account address: {text.strip()[:80]!r}") from None
    return "0x" + address.address.hex()


@dataclass(frozen=True, eq=False)
class WalletKey:
    """An Ed25519 private key and the account it controls.

    repr/str show only the address: the secret is reachable solely through `aip80()` (for
    the keyring) and `sign()`.
    """

    _private: ed25519.PrivateKey = field(repr=False)
    address: str = field(init=False)
    public_key_hex: str = field(init=False)

    def __post_init__(self) -> None:
        public = self._private.public_key()
        object.__setattr__(self, "public_key_hex", str(public))
        object.__setattr__(self, "address", "0x" + AccountAddress.from_key(public).address.hex())

    def __repr__(self) -> str:
        return f"WalletKey(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("WalletKey cannot be pickled")

    @property
    def public_key(self) -> ed25519.PublicKey:
        return self._private.public_key()

    @property
    def account_address(self) -> AccountAddress:
        return AccountAddress(bytes.fromhex(self.address[2:]))

    def sign(self, message: bytes) -> bytes:
        """Raw 64-byte Ed25519 signature of `message`."""
        return bytes(self._private.key.sign(message).signature)

    def aip80(self) -> str:
        """The secret in AIP-80 form: only for writing to the OS keyring."""
        return AIP80_PREFIX + "0x" + self._private.key.encode().hex()

    def signing_key(self) -> ed25519.PrivateKey:
        """The aptos-sdk key object, for SDK calls that need one (its str() is the secret)."""
        return self._private


def parse_private_key(text: str) -> WalletKey:
    """Parse hex or AIP-80 text into a key; `WalletKeyError` (secret-free) if malformed."""
    value = text.strip()
    if value.lower().startswith(AIP80_PREFIX):
        value = value[len(AIP80_PREFIX) :]
        if not value.lower().startswith("0x"):
            raise WalletKeyError("AIP-80 key must look like ed25519-priv-0x<64 hex digits>")
    elif _OTHER_AIP80.match(value):
        raise WalletKeyError("only Ed25519 keys are supported (ed25519-priv-0x...)")
    if value.lower().startswith("0x"):
        value = value[2:]
    if not value:
        raise WalletKeyError("no private key given")
    if not _HEX.match(value):
        raise WalletKeyError("private key must be hexadecimal (0x... or ed25519-priv-0x...)")
    if len(value) != KEY_BYTES * 2:
        raise WalletKeyError(
            f"private key must be {KEY_BYTES} bytes ({KEY_BYTES * 2} hex digits), "
            f"got {len(value)} hex digits"
        )
    return WalletKey(ed25519.PrivateKey(SigningKey(bytes.fromhex(value))))


def generate_key() -> WalletKey:
    """A fresh random key from the OS CSPRNG (via libsodium)."""
    return WalletKey(ed25519.PrivateKey(SigningKey.generate()))


def check_address(key: WalletKey, expected: str) -> None:
    """Refuse a key that does not control the address the user said it does."""
    wanted = normalize_address(expected)
    if wanted != key.address:
        raise WalletKeyError(
            f"key does not match address {wanted}: it controls {key.address} "
            "(a rotated auth key is not supported)"
        )

"""The one place that converts display amounts (Decimal) to on-chain base units (int) and back.

Why one place: a rounding or decimals mistake here moves real money, so every caller goes
through these functions and nothing else multiplies by 10**decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

APT_DECIMALS = 8
U64_MAX = 2**64 - 1

# Decimals of the assets OneClick knows by symbol; anything else is passed explicitly.
ASSET_DECIMALS: dict[str, int] = {"APT": APT_DECIMALS, "USDC": 6, "USDT": 6}


class UnitsError(ValueError):
    """An amount cannot be represented exactly on chain; the message is one line for the user."""


def decimals_for(symbol: str) -> int:
    """Decimals of a known asset symbol (case-insensitive)."""
    try:
        return ASSET_DECIMALS[symbol.upper()]
    except KeyError:
        raise UnitsError(f"unknown asset {symbol!r}: its decimals are not known") from None


def parse_amount(text: str | Decimal | int) -> Decimal:
    """A user-typed amount as a finite Decimal (never via float)."""
    if isinstance(text, float):  # pragma: no cover - guarded by types, kept for callers
        raise UnitsError("amounts must not be floats")
    try:
        value = Decimal(text) if not isinstance(text, Decimal) else text
    except InvalidOperation:
        raise UnitsError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise UnitsError(f"not a finite amount: {text!r}")
    return value


def to_base_units(amount: Decimal | str | int, decimals: int) -> int:
    """Display amount -> integer base units; refuses precision finer than the asset allows."""
    value = parse_amount(amount)
    if value < 0:
        raise UnitsError(f"amount must not be negative, got {value}")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise UnitsError(f"{value} has more than {decimals} decimal places")
    units = int(scaled)
    if units > U64_MAX:
        raise UnitsError(f"{value} is larger than the chain can hold (u64)")
    return units


def from_base_units(units: int, decimals: int) -> Decimal:
    """Integer base units -> exact display Decimal."""
    if units < 0:
        raise UnitsError(f"base units must not be negative, got {units}")
    return Decimal(units).scaleb(-decimals)


def apt_to_octas(amount: Decimal | str | int) -> int:
    """APT -> octas (1 APT = 10**8 octas)."""
    return to_base_units(amount, APT_DECIMALS)


def octas_to_apt(octas: int) -> Decimal:
    """Octas -> APT."""
    return from_base_units(octas, APT_DECIMALS)


def min_out_units(expected_out: int, slippage: Decimal) -> int:
    """Smallest acceptable output (base units) for a slippage bound such as Decimal("0.005").

    Rounded down so the bound is never tighter than the user asked for.
    """
    if not Decimal(0) <= slippage < Decimal(1):
        raise UnitsError(f"slippage must be in [0, 1), got {slippage}")
    if expected_out < 0:
        raise UnitsError("expected output must not be negative")
    return int((Decimal(expected_out) * (Decimal(1) - slippage)).to_integral_value("ROUND_FLOOR"))

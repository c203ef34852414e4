"""Decimal <-> base units: exact, and refusing what the chain cannot represent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oneclick_tui.domain.units import (
    U64_MAX,
    UnitsError,
    apt_to_octas,
    decimals_for,
    from_base_units,
    min_out_units,
    octas_to_apt,
    to_base_units,
)


@pytest.mark.parametrize(
    ("amount", "octas"),
    [
        ("1", 100_000_000),
        ("0.00000001", 1),
        ("1.5", 150_000_000),
        ("0", 0),
        (Decimal("2.10"), 210_000_000),
    ],
)
def test_apt_to_octas(amount: str, octas: int) -> None:
    assert apt_to_octas(amount) == octas
    assert octas_to_apt(octas) == Decimal(amount)


def test_usdc_has_six_decimals() -> None:
    assert to_base_units("12.345678", decimals_for("usdc")) == 12_345_678
    assert from_base_units(1, 6) == Decimal("0.000001")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0.000000001", "more than 8 decimal places"),
        ("-1", "negative"),
        ("abc", "not a number"),
        ("NaN", "not a finite"),
        (str(U64_MAX), "larger than the chain"),
    ],
)
def test_refuses_what_the_chain_cannot_hold(amount: str, message: str) -> None:
    with pytest.raises(UnitsError, match=message):
        apt_to_octas(amount)


def test_min_out_rounds_down_so_the_bound_is_never_tighter() -> None:
    assert min_out_units(1_000_000, Decimal("0.005")) == 995_000
    assert min_out_units(999, Decimal("0.01")) == 989  # 989.01 -> 989
    assert min_out_units(5, Decimal("0")) == 5
    with pytest.raises(UnitsError):
        min_out_units(5, Decimal("1"))


def test_unknown_asset_decimals() -> None:
    with pytest.raises(UnitsError, match="unknown asset"):
        decimals_for("DOGE")

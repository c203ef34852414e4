"""Checks a repository runs before writing, so a refusal names the field and the value.

They mirror the schema's CHECKs; the database stays the last line of defence.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from oneclick_tui.stores.errors import ValidationError


def decimal(label: str, value: Any) -> Decimal:
    """The value as a finite Decimal; floats are refused because they cannot hold money."""
    if isinstance(value, float):
        raise ValidationError(f"{label} must be a Decimal, not the float {value!r}")
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValidationError(f"{label} must be a Decimal, got {type(value).__name__}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValidationError(f"{label} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise ValidationError(f"{label} must be a finite number, got {value}")
    return number


def optional_decimal(label: str, value: Any) -> Decimal | None:
    return None if value is None else decimal(label, value)


def positive(label: str, value: Any) -> Decimal:
    number = decimal(label, value)
    if number <= 0:
        raise ValidationError(f"{label} must be greater than 0, got {number}")
    return number


def non_negative(label: str, value: Any) -> Decimal:
    number = decimal(label, value)
    if number < 0:
        raise ValidationError(f"{label} must not be negative, got {number}")
    return number


def in_range(
    label: str, value: Any, low: Decimal | int, high: Decimal | int, *, low_open: bool = False
) -> Decimal:
    """low <= value <= high (or low < value when low_open)."""
    number = decimal(label, value)
    below = number <= low if low_open else number < low
    if below or number > high:
        raise ValidationError(f"{label} must be between {low} and {high}, got {number}")
    return number


def choice(label: str, value: Any, allowed: Iterable[Any]) -> Any:
    options = tuple(allowed)
    if value not in options:
        listed = ", ".join(str(option) for option in options)
        raise ValidationError(f"{label} must be one of {listed}, got {value!r}")
    return value


def text(label: str, value: Any, *, max_length: int, required: bool = True) -> str | None:
    """Stripped text within the column's length; None allowed unless required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{label} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{label} must be text, got {type(value).__name__}")
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise ValidationError(
            f"{label} must be at most {max_length} characters, got {len(cleaned)}"
        )
    return cleaned

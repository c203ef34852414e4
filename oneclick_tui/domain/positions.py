"""Average-cost position accounting for one asset (pure, all Decimal).

Conventions (also in docs/METRICS.md):

- Fees are NOT added to the cost basis. Every fee, opening fills included, is deducted
  from realized PnL when it is paid. Unrealized PnL excludes fees.
- A buy realizes ``-fee``. A sell realizes ``(price - avg_cost) * qty - fee``.
- Selling more than is held is refused with :class:`OversellError` (no shorts).
- The position keeps its total ``cost_basis``; ``avg_cost`` is derived from it. The cost
  removed by a partial sell is rounded to 18 decimal places (far below any token's base
  unit) and subtracted exactly, so the books always balance: over any sequence of fills,
  realized + unrealized PnL == sell proceeds - buy cost + current value - fees, exactly.
- Nothing is quantized to an asset's decimals here; callers pass fills already quantized.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

ZERO = Decimal(0)
COST_SCALE = Decimal("1e-18")
"""Precision of the cost removed by a partial sell."""
_PRECISION = 60
"""Working precision, so sums and products of realistic fills are exact."""


class PositionError(ValueError):
    """A fill that cannot be applied to a position."""


class InvalidFillError(PositionError):
    """Quantity or price not positive, fee negative, or a value not finite."""


class OversellError(PositionError):
    """A sell for more than the position holds."""

    def __init__(self, requested: Decimal, held: Decimal) -> None:
        super().__init__(f"cannot sell {requested}: position holds {held}")
        self.requested = requested
        self.held = held


@dataclass(frozen=True, slots=True)
class Position:
    """Quantity held and its total cost (fees excluded); flat is ``Position()``."""

    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO

    @classmethod
    def from_avg_cost(cls, quantity: Decimal, avg_cost: Decimal) -> Position:
        """Rebuild from a stored (quantity, average cost) pair."""
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return cls(quantity=quantity, cost_basis=quantity * avg_cost)

    @property
    def avg_cost(self) -> Decimal:
        """Cost per unit held; 0 when flat."""
        return self.cost_basis / self.quantity if self.quantity else ZERO

    @property
    def is_flat(self) -> bool:
        """True when nothing is held."""
        return self.quantity == 0


@dataclass(frozen=True, slots=True)
class FillResult:
    """The position after a fill and the realized PnL the fill added."""

    position: Position
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Mark:
    """A position valued at a price: value and unrealized PnL (fees excluded)."""

    current_value: Decimal
    unrealized_pnl: Decimal


def _check_fill(qty: Decimal, price: Decimal, fee: Decimal) -> None:
    if not (qty.is_finite() and price.is_finite() and fee.is_finite()):
        raise InvalidFillError("fill values must be finite")
    if qty <= 0 or price <= 0:
        raise InvalidFillError(f"quantity and price must be positive (qty={qty}, price={price})")
    if fee < 0:
        raise InvalidFillError(f"fee must not be negative (fee={fee})")


def apply_buy(position: Position, qty: Decimal, price: Decimal, fee: Decimal = ZERO) -> FillResult:
    """Add ``qty`` at ``price``: cost basis grows by ``qty * price``; realizes ``-fee``."""
    _check_fill(qty, price, fee)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        new = Position(position.quantity + qty, position.cost_basis + qty * price)
        return FillResult(new, -fee)


def apply_sell(position: Position, qty: Decimal, price: Decimal, fee: Decimal = ZERO) -> FillResult:
    """Remove ``qty`` at ``price``; realizes ``(price - avg_cost) * qty - fee``."""
    _check_fill(qty, price, fee)
    if qty > position.quantity:
        raise OversellError(qty, position.quantity)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if qty == position.quantity:
            removed = position.cost_basis
        else:
            share = position.cost_basis * qty / position.quantity
            removed = min(share.quantize(COST_SCALE), position.cost_basis)
        new = Position(position.quantity - qty, position.cost_basis - removed)
        return FillResult(new, qty * price - removed - fee)


def mark_to_market(position: Position, price: Decimal) -> Mark:
    """Value at ``price`` and unrealized PnL ``value - cost_basis``."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        value = position.quantity * price
        return Mark(current_value=value, unrealized_pnl=value - position.cost_basis)

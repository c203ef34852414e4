"""Average-cost position accounting: worked examples and the cash-flow identity."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneclick_tui.domain.positions import (
    InvalidFillError,
    OversellError,
    Position,
    apply_buy,
    apply_sell,
    mark_to_market,
)

D = Decimal


def test_worked_round_trip() -> None:
    r1 = apply_buy(Position(), D(10), D(100), D(1))  # cost 1000, fee not in basis
    assert (r1.position.quantity, r1.position.cost_basis, r1.realized_pnl) == (D(10), D(1000), -1)
    r2 = apply_buy(r1.position, D(10), D(120), D(1))  # cost 2200 for 20 -> avg 110
    assert r2.position.avg_cost == D(110)
    assert r2.realized_pnl == D(-1)
    r3 = apply_sell(r2.position, D(5), D(130), D(2))  # (130 - 110) * 5 - 2 = 98
    assert r3.realized_pnl == D(98)
    assert (r3.position.quantity, r3.position.cost_basis) == (D(15), D(1650))
    mark = mark_to_market(r3.position, D(100))  # 15 * 100 = 1500; 1500 - 1650 = -150
    assert (mark.current_value, mark.unrealized_pnl) == (D(1500), D(-150))
    r4 = apply_sell(r3.position, D(15), D(90), D(1))  # (90 - 110) * 15 - 1 = -301
    assert r4.realized_pnl == D(-301)
    assert r4.position == Position()
    assert r4.position.is_flat and r4.position.avg_cost == 0
    # realized -1 - 1 + 98 - 301 = -205 = cash (-1000 - 1200 + 650 + 1350) - fees 5
    assert sum(r.realized_pnl for r in (r1, r2, r3, r4)) == D(-205)


def test_partial_sells_at_repeating_average_balance_exactly() -> None:
    pos = apply_buy(apply_buy(Position(), D(1), D(1)).position, D(2), D(2)).position
    assert pos.cost_basis == D(5)  # avg 5/3, a repeating decimal
    first = apply_sell(pos, D(1), D(2))  # removes 1.666666666666666667 (18 places)
    assert first.realized_pnl == D("0.333333333333333333")
    second = apply_sell(first.position, D(2), D(2))  # removes the rest, 3.333333333333333333
    assert second.realized_pnl == D("0.666666666666666667")
    assert first.realized_pnl + second.realized_pnl == D(1)  # proceeds 6 - cost 5


def test_oversell_is_refused() -> None:
    pos = apply_buy(Position(), D(2), D(10)).position
    with pytest.raises(OversellError) as err:
        apply_sell(pos, D(3), D(10))
    assert (err.value.requested, err.value.held) == (D(3), D(2))
    with pytest.raises(OversellError):
        apply_sell(Position(), D("0.00000001"), D(10))


@pytest.mark.parametrize(
    ("qty", "price", "fee"),
    [(D(0), D(1), D(0)), (D(1), D(-1), D(0)), (D(1), D(1), D(-1)), (D("NaN"), D(1), D(0))],
)
def test_invalid_fills_are_refused(qty: Decimal, price: Decimal, fee: Decimal) -> None:
    with pytest.raises(InvalidFillError):
        apply_buy(Position(), qty, price, fee)
    with pytest.raises(InvalidFillError):
        apply_sell(Position(D(5), D(50)), qty, price, fee)


def test_from_avg_cost_and_flat_mark() -> None:
    pos = Position.from_avg_cost(D("2.5"), D("8.2"))
    assert pos.cost_basis == D("20.5")
    assert mark_to_market(Position(), D(7)).unrealized_pnl == 0


qty_st = st.decimals(min_value=D("0.00000001"), max_value=D(100_000), places=8)
price_st = st.decimals(min_value=D("0.0001"), max_value=D(100_000), places=4)
fee_st = st.decimals(min_value=0, max_value=D(50), places=6)
fraction_st = st.decimals(min_value=D("0.000001"), max_value=1, places=6)
op_st = st.tuples(st.sampled_from(["buy", "sell"]), qty_st, fraction_st, price_st, fee_st)


@given(st.lists(op_st, max_size=30), price_st)
def test_books_balance_after_any_valid_sequence(
    ops: list[tuple[str, Decimal, Decimal, Decimal, Decimal]], mark_price: Decimal
) -> None:
    with localcontext() as ctx:
        ctx.prec = 60  # the test's own sums must be exact too
        pos, realized, cash, fees = Position(), D(0), D(0), D(0)
        for side, qty, fraction, price, fee in ops:
            if side == "buy":
                result = apply_buy(pos, qty, price, fee)
                cash -= qty * price
            else:
                sell_qty = (pos.quantity * fraction).quantize(D("0.00000001"))
                if sell_qty <= 0:
                    continue
                result = apply_sell(pos, sell_qty, price, fee)
                cash += sell_qty * price
            pos, realized, fees = result.position, realized + result.realized_pnl, fees + fee
            assert pos.quantity >= 0 and pos.cost_basis >= 0
            assert pos.cost_basis == 0 or pos.quantity > 0
        mark = mark_to_market(pos, mark_price)
        assert realized + mark.unrealized_pnl == cash + mark.current_value - fees

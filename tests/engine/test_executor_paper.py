"""PaperExecutor: what a paper follower sees for a copy filled against the simulated book."""

from __future__ import annotations

from decimal import Decimal as D

from oneclick_tui.domain.market_events import Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.execution.base import Order, PaperExecutor, paper_tx_hash
from tests.engine.test_copy_engine import PAIR


def book() -> OrderBook:
    b = OrderBook("APT/USDC")
    b.load(1, [(D("9.99"), D("5"))], [(D("10.00"), D("5")), (D("10.10"), D("5"))])
    return b


def order(amount: str, worst: str, side: Side = Side.BUY, trade_id: int = 1) -> Order:
    return Order(trade_id, 1, PAIR, side, D(amount), D("10"), D(worst), D(1))


async def test_walks_the_book_average_price_and_taker_fee() -> None:
    (fill,) = await PaperExecutor({"APT/USDC": book()}).execute_orders([order("8", "10.1")])
    assert fill.status == "completed" and fill.amount == D("8")
    assert fill.price == (D("50") + D("30.3")) / 8  # 5 @ 10.00 + 3 @ 10.10
    assert fill.fee == D("0.04015")  # 80.3 x 0.05%
    assert fill.tx_hash == paper_tx_hash(1)


async def test_partial_fill_when_depth_runs_out() -> None:
    (fill,) = await PaperExecutor({"APT/USDC": book()}).execute_orders([order("12", "10.1")])
    assert fill.status == "completed" and fill.amount == D("10")


async def test_refuses_an_average_worse_than_the_slippage_bound() -> None:
    (fill,) = await PaperExecutor({"APT/USDC": book()}).execute_orders([order("8", "10.02")])
    assert fill.status == "failed" and fill.reason.startswith("slippage")


async def test_followers_of_one_size_share_a_walk_and_get_their_own_hash() -> None:
    orders = [order("2", "10.1", trade_id=i) for i in range(3)]
    fills = await PaperExecutor({"APT/USDC": book()}).execute_orders(orders)
    assert {f.price for f in fills} == {D("10.00")}
    assert len({f.tx_hash for f in fills}) == 3


async def test_no_book_fails() -> None:
    (fill,) = await PaperExecutor({}).execute_orders([order("1", "11")])
    assert fill.status == "failed" and fill.reason == "pair has no live book"

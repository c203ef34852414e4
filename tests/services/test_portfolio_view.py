"""Portfolio valuation (pure) and the holdings read on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from oneclick_tui.config import Settings
from oneclick_tui.services.portfolio_view import Holding, PortfolioView, value_portfolio
from oneclick_tui.services.runtime import open_services

T = datetime(2026, 11, 24, tzinfo=UTC)


def h(
    asset: str,
    qty: str,
    avg: str,
    pair: str | None = None,
    mark: str | None = None,
    realized: str = "0",
) -> Holding:
    return Holding(asset, pair, D(qty), D(avg), D(realized), None if mark is None else D(mark), T)


def test_cash_at_one_risk_assets_at_the_live_mid_and_totals_are_sums() -> None:
    snap = value_portfolio(
        [
            h("USDC", "900", "1"),
            h("APT", "10", "8", "APT/USDC", realized="-2.5"),
            h("WETH", "0.5", "3000", "WETH/USDC", mark="1400", realized="1"),
        ],
        {"APT/USDC": D("10")},
    )
    rows = {r.asset: r for r in snap.rows}
    assert rows["USDC"].value == D("900") and rows["USDC"].unrealized_pnl == 0
    assert rows["APT"].value == D("100") and rows["APT"].unrealized_pnl == D("20")
    assert rows["APT"].live and not rows["WETH"].live
    assert rows["WETH"].value == D("1400") and rows["WETH"].unrealized_pnl == D("-100")
    assert snap.equity == D("2400") and snap.cash == D("900")
    assert snap.unrealized_pnl == D("-80") and snap.realized_pnl == D("-1.5")
    assert sum(r.weight or 0 for r in snap.rows) == 1
    assert snap.unpriced == ()
    assert snap.diversification is not None and 0 < snap.diversification < 1
    assert snap.risk_score is not None and 0 <= snap.risk_score <= 100


def test_unpriced_holding_is_named_and_left_out_of_equity() -> None:
    snap = value_portfolio([h("USDT", "100", "1"), h("THL", "5", "1", None)], {})
    assert snap.unpriced == ("THL",)
    assert snap.equity == D("100")


def test_all_cash_is_not_risky_and_empty_has_no_scores() -> None:
    cash = value_portfolio([h("USDC", "100", "1")], {})
    assert cash.risk_score == 0 and cash.diversification is None
    empty = value_portfolio([], {})
    assert empty.equity == 0 and empty.risk_score is None


async def test_holdings_read_the_pair_that_prices_each_position(fresh_sqlite_url: str) -> None:
    services = await open_services(Settings(database_url=fresh_sqlite_url))
    try:
        pair = next(iter(services.catalog.pairs.values()))
        repo = services.repos.positions
        await repo.upsert(
            services.user.id, pair.spec.base, quantity=D("2"), average_cost=D("3"), pair_id=pair.id
        )
        held = {x.asset: x for x in await PortfolioView(services).holdings()}
        assert held["USDC"].pair is None and held["USDC"].quantity == D(10_000)
        assert held[pair.spec.base].pair == pair.spec.symbol
        assert await PortfolioView(services).equity_history() == []
    finally:
        await services.close()

"""Copy sizing and risk rules, each checked on a worked example a follower could redo by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oneclick_tui.domain.copy_rules import (
    BookDepth,
    CopyOrder,
    CopySide,
    FollowerState,
    FollowTerms,
    LeadFill,
    PairRules,
    Preferences,
    Side,
    SizingMode,
    Skip,
    SkipReason,
    decide_copy,
    fillable_within,
)

PAIR = PairRules("APT", "USDC", min_size=D("0.1"), lot_size=D("0.01"), fee_rate=D("0.001"))
ASKS = [(D("10.00"), D("100")), (D("10.10"), D("100")), (D("10.50"), D("1000"))]
BIDS = [(D("9.98"), D("100")), (D("9.90"), D("100")), (D("9.50"), D("1000"))]
MID = D("9.99")
RICH = FollowerState(
    quote_balance=D("100000"),
    base_held=D(0),
    base_from_lead=D(0),
    equity=D("100000"),
    traded_today=D(0),
)
LOOSE = Preferences(max_slippage_pct=D("5"), risk_tolerance="high")


def buy(amount: str, risk: str = "medium", **kw: object) -> LeadFill:
    return LeadFill(Side.BUY, D(amount), D("10"), risk, **kw)  # type: ignore[arg-type]


def decide(
    lead: LeadFill,
    terms: FollowTerms | None = None,
    prefs: Preferences = LOOSE,
    follower: FollowerState = RICH,
    pair: PairRules = PAIR,
) -> CopyOrder | Skip:
    levels = ASKS if lead.side is Side.BUY else BIDS
    return decide_copy(terms or FollowTerms(), prefs, pair, lead, follower, levels, MID)


def test_copy_pct_is_lead_size_times_pct() -> None:
    order = decide(buy("40"), FollowTerms(copy_pct=D(25)))
    assert isinstance(order, CopyOrder)
    assert order.amount == D("10.00")  # 40 x 25 / 100
    assert order.side is Side.BUY


def test_fixed_quote_buys_that_much_quote_at_lead_price() -> None:
    terms = FollowTerms(sizing_mode=SizingMode.FIXED_QUOTE, fixed_quote_amount=D("55"))
    order = decide(buy("1000"), terms)
    assert isinstance(order, CopyOrder)
    assert order.amount == D("5.50")  # 55 USDC / 10 USDC per APT


def test_equity_ratio_scales_by_follower_over_leader_equity() -> None:
    terms = FollowTerms(sizing_mode=SizingMode.EQUITY_RATIO, copy_pct=D(50))
    follower = FollowerState(D("5000"), D(0), D(0), equity=D("5000"), traded_today=D(0))
    order = decide(buy("200", leader_equity=D("100000")), terms, follower=follower)
    assert isinstance(order, CopyOrder)
    assert order.amount == D("5.00")  # 200 x 5000/100000 x 50%


def test_lead_sell_sells_same_fraction_of_copied_position() -> None:
    follower = FollowerState(
        D(0), base_held=D("12"), base_from_lead=D("8"), equity=D(0), traded_today=D(0)
    )
    lead = LeadFill(Side.SELL, D("30"), D("10"), "low", leader_position_before=D("120"))
    order = decide(lead, follower=follower)
    assert isinstance(order, CopyOrder)
    assert order.amount == D("2.00")  # lead sold 1/4 of his position -> 1/4 of 8


def test_lead_full_exit_sells_all_copied_but_never_more_than_held() -> None:
    follower = FollowerState(
        D(0), base_held=D("3"), base_from_lead=D("8"), equity=D(0), traded_today=D(0)
    )
    lead = LeadFill(Side.SELL, D("120"), D("10"), "low", leader_position_before=D("120"))
    order = decide(lead, follower=follower)
    assert isinstance(order, CopyOrder) and order.amount == D("3.00")


def test_sell_without_copied_position_is_skipped() -> None:
    lead = LeadFill(Side.SELL, D("1"), D("10"), "low", leader_position_before=D("5"))
    assert decide(lead) == Skip(
        SkipReason.NOTHING_TO_SELL, "no position built by copying this trader"
    )


@pytest.mark.parametrize(
    ("terms", "prefs", "lead", "reason"),
    [
        (FollowTerms(status="paused"), LOOSE, buy("1"), SkipReason.PAUSED),
        (FollowTerms(auto_copy=False), LOOSE, buy("1"), SkipReason.AUTO_COPY_OFF),
        (FollowTerms(copy_side=CopySide.EXITS_ONLY), LOOSE, buy("1"), SkipReason.SIDE_FILTERED),
        (
            FollowTerms(),
            Preferences(allowed_assets=frozenset({"APT", "USDT"})),
            buy("1"),
            SkipReason.ASSET_NOT_ALLOWED,
        ),
        (
            FollowTerms(),
            Preferences(risk_tolerance="low"),
            buy("1", "medium"),
            SkipReason.RISK_CATEGORY,
        ),
        (
            FollowTerms(),
            Preferences(risk_tolerance="medium"),
            buy("1", "extreme"),
            SkipReason.RISK_CATEGORY,
        ),
        (FollowTerms(copy_pct=D(1)), LOOSE, buy("5"), SkipReason.BELOW_MIN_SIZE),
    ],
)
def test_each_rule_skips_with_its_reason(
    terms: FollowTerms, prefs: Preferences, lead: LeadFill, reason: SkipReason
) -> None:
    result = decide(lead, terms, prefs)
    assert isinstance(result, Skip) and result.reason is reason


def test_high_tolerance_admits_extreme_traders() -> None:
    assert isinstance(decide(buy("1", "extreme")), CopyOrder)


def test_max_trade_amount_clamps_then_skips_below_minimum() -> None:
    clamped = decide(buy("100"), prefs=Preferences(max_trade_amount=D("25"), max_slippage_pct=D(5)))
    assert isinstance(clamped, CopyOrder) and clamped.amount == D("2.50")
    tiny = decide(buy("100"), prefs=Preferences(max_trade_amount=D("0.5"), max_slippage_pct=D(5)))
    assert isinstance(tiny, Skip) and tiny.reason is SkipReason.BELOW_MIN_SIZE
    assert "after max trade clamp" in tiny.detail


def test_daily_limit_counts_what_was_traded_today() -> None:
    prefs = Preferences(daily_limit=D("1000"), max_slippage_pct=D(5))
    spent = FollowerState(D("100000"), D(0), D(0), D("100000"), traded_today=D("970"))
    order = decide(buy("10"), prefs=prefs, follower=spent)
    assert isinstance(order, CopyOrder) and order.amount == D("3.00")  # 30 USDC of room
    full = FollowerState(D("100000"), D(0), D(0), D("100000"), traded_today=D("1000"))
    skip = decide(buy("10"), prefs=prefs, follower=full)
    assert isinstance(skip, Skip) and skip.reason is SkipReason.OVER_DAILY_LIMIT


def test_insufficient_balance_counts_fee_and_worst_price() -> None:
    poor = FollowerState(D("50"), D(0), D(0), D("50"), traded_today=D(0))
    skip = decide(buy("10"), FollowTerms(copy_pct=D(50)), follower=poor)
    assert isinstance(skip, Skip) and skip.reason is SkipReason.INSUFFICIENT_BALANCE


def test_depth_gate_scales_down_to_what_fills_within_slippage() -> None:
    # bound 1% of mid 9.99 -> worst 10.0899. 100 @ 10.00 (avg 10.00); all 100 @ 10.10 keep
    # the average at 10.05; at 10.50 the room left is 10.0899 x 200 - 2010 = 7.98 quote,
    # each unit costs 10.50 - 10.0899 = 0.4101 over the bound -> 7.98 / 0.4101 = 19.4586...
    fill = fillable_within(ASKS, D("10.0899"), Side.BUY)
    assert fill == 200 + D("7.98") / D("0.4101")
    order = decide(buy("1000"), prefs=Preferences(max_slippage_pct=D(1), risk_tolerance="high"))
    assert isinstance(order, CopyOrder)
    assert order.amount == D("219.45")  # rounded down to the 0.01 lot
    assert order.notes and "depth" in order.notes[-1]


def test_depth_gate_on_the_bid_side_for_sells() -> None:
    # worst for a sell at 1%: 9.99 x 0.99 = 9.8901; 100 @ 9.98, then 9.90 >= 9.8901 all 100,
    # then 9.50: room = 1988 - 9.8901 x 200 = 9.98; gap 0.3901 -> 25.583...
    fill = fillable_within(BIDS, D("9.8901"), Side.SELL)
    assert fill == 200 + D("9.98") / D("0.3901")


def test_one_depth_walk_per_bound_gives_every_follower_the_same_answer() -> None:
    """A fan-out shares one `BookDepth`: the decisions are those of a walk per follower."""
    depth = BookDepth(ASKS)
    for pct in ("1", "0.5", "1", "5", "0.5"):
        prefs = Preferences(max_slippage_pct=D(pct), risk_tolerance="high")
        for size in ("1000", "50", "1000"):
            shared = decide_copy(FollowTerms(), prefs, PAIR, buy(size), RICH, depth, MID)
            alone = decide_copy(FollowTerms(), prefs, PAIR, buy(size), RICH, ASKS, MID)
            assert shared == alone
    assert depth.fillable(D("10.0899"), Side.BUY) == 200 + D("7.98") / D("0.4101")


def test_too_thin_book_skips_for_slippage() -> None:
    thin_asks = [(D("11.00"), D("100"))]
    result = decide_copy(FollowTerms(), LOOSE, PAIR, buy("1"), RICH, thin_asks, MID)
    assert isinstance(result, Skip) and result.reason is SkipReason.SLIPPAGE


def test_limits_never_block_an_exit() -> None:
    prefs = Preferences(max_trade_amount=D("1"), daily_limit=D("1"), max_slippage_pct=D(5))
    spent = FollowerState(
        D(0), base_held=D("50"), base_from_lead=D("50"), equity=D(0), traded_today=D("999")
    )
    lead = LeadFill(Side.SELL, D("10"), D("10"), "low", leader_position_before=D("10"))
    order = decide(lead, prefs=prefs, follower=spent)
    assert isinstance(order, CopyOrder) and order.amount == D("50.00")

"""How big a copy is, and whether the follower's risk rules let it through.

Pure functions: the copy engine gathers the facts (follow terms, the follower's preferences,
balances, the book) and calls `decide_copy`, which returns either a `CopyOrder` or a `Skip`
with a reason code. Nothing is signed or recorded here, so every rule can be tested alone.

Conventions (also in docs/COPY_ENGINE.md):
- sizes are in base units of the pair (e.g. APT for APT/USDC), notionals in the quote asset;
- `copy_pct`: copy size = lead size x copy % / 100;
  `fixed_quote`: copy notional = the fixed quote amount, at the lead's price;
  `equity_ratio`: copy size = lead size x follower equity / leader equity x copy % / 100;
- a lead sell makes the follower sell the same fraction of the position he built by copying
  that lead, never more than he holds;
- max trade amount and the daily limit clamp a buy; a clamp that would fall below the
  pair's minimum size becomes a skip (`over_daily_limit`, or `below_min_size` naming the max
  trade clamp); sells are never clamped or blocked by them: limits cap what is put to work,
  and an exit must not be trapped by them;
- the daily limit counts the buy notional of the UTC day, pending copies included;
- sizes are rounded down to the pair's lot size; a buy needs quote for notional plus fee;
- the depth gate walks the book and scales the copy down to what fills within the slippage
  bound of the mid; if less than the minimum size fits, the copy is skipped (`slippage`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from oneclick_tui.domain.market_events import Side

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class SizingMode(StrEnum):
    COPY_PCT = "copy_pct"
    FIXED_QUOTE = "fixed_quote"
    EQUITY_RATIO = "equity_ratio"


class CopySide(StrEnum):
    ALL = "all"
    ENTRIES_ONLY = "entries_only"
    EXITS_ONLY = "exits_only"


class SkipReason(StrEnum):
    """Why a copy was not made; stored verbatim as the skip record's reason code."""

    PAUSED = "paused"
    AUTO_COPY_OFF = "auto_copy_off"
    SIDE_FILTERED = "side_filtered"
    ASSET_NOT_ALLOWED = "asset_not_allowed"
    RISK_CATEGORY = "risk_category"
    NOTHING_TO_SELL = "nothing_to_sell"
    OVER_DAILY_LIMIT = "over_daily_limit"
    BELOW_MIN_SIZE = "below_min_size"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    SLIPPAGE = "slippage"
    PAIR_INACTIVE = "pair_inactive"
    LEAD_TOO_OLD = "lead_too_old"
    """Live networks: the lead trade was seen too late (engine down, node behind) to copy
    at today's prices."""


# Risk categories in increasing order; a tolerance admits every category up to its own,
# and "high" tolerance also admits "extreme" traders (the user accepts any risk).
_RISK_ORDER = {"low": 0, "medium": 1, "high": 2, "extreme": 3}
_TOLERANCE_CEILING = {"low": 0, "medium": 1, "high": 3}


@dataclass(frozen=True)
class FollowTerms:
    """The follow relationship as the copy engine needs it."""

    status: str = "active"
    auto_copy: bool = True
    copy_pct: Decimal = Decimal(100)
    sizing_mode: SizingMode = SizingMode.COPY_PCT
    fixed_quote_amount: Decimal | None = None
    copy_side: CopySide = CopySide.ALL


@dataclass(frozen=True)
class Preferences:
    """The follower's risk rules (from `user_preferences`)."""

    max_trade_amount: Decimal | None = None
    daily_limit: Decimal | None = None
    risk_tolerance: str = "medium"
    allowed_assets: frozenset[str] | None = None
    max_slippage_pct: Decimal = Decimal(1)


@dataclass(frozen=True)
class PairRules:
    base: str
    quote: str
    min_size: Decimal
    lot_size: Decimal
    fee_rate: Decimal = ZERO
    active: bool = True


@dataclass(frozen=True)
class LeadFill:
    """A lead trader's executed trade, plus what the sizing of a sell needs."""

    side: Side
    amount: Decimal
    price: Decimal
    risk_category: str
    leader_equity: Decimal | None = None
    leader_position_before: Decimal | None = None


@dataclass(frozen=True)
class FollowerState:
    """What the follower has right now, as seen by the engine."""

    quote_balance: Decimal
    base_held: Decimal
    base_from_lead: Decimal
    equity: Decimal
    traded_today: Decimal


@dataclass(frozen=True)
class CopyOrder:
    """A copy that passed every rule: size in base units, and the limits to sign with."""

    side: Side
    amount: Decimal
    reference_price: Decimal
    worst_price: Decimal
    notes: tuple[str, ...] = ()

    @property
    def notional(self) -> Decimal:
        return self.amount * self.reference_price


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    detail: str


Decision = CopyOrder | Skip
BookLevels = Iterable[tuple[Decimal, Decimal]]


class BookDepth:
    """One side of the book for a whole fan-out, with each depth walk done once.

    Why: 10,000 followers mostly share a handful of slippage bounds, so the same walk of
    200 levels would otherwise be repeated per follower (~15 us each).
    """

    __slots__ = ("_levels", "_walked")

    def __init__(self, levels: BookLevels) -> None:
        self._levels = tuple(levels)
        self._walked: dict[tuple[Decimal, Side], Decimal] = {}

    def fillable(self, worst: Decimal, side: Side) -> Decimal:
        """`fillable_within` of these levels, remembered per (worst price, side)."""
        found = self._walked.get((worst, side))
        if found is None:
            found = self._walked[(worst, side)] = fillable_within(self._levels, worst, side)
        return found


def decide_copy(
    terms: FollowTerms,
    prefs: Preferences,
    pair: PairRules,
    lead: LeadFill,
    follower: FollowerState,
    levels: BookLevels | BookDepth,
    mid: Decimal,
) -> Decision:
    """Apply every rule in order; the first that fails names the skip.

    `levels` is the side of the book the copy would take (asks ascending for a buy, bids
    descending for a sell) and `mid` the current mid price, for the depth gate.
    """
    gate = _gates(terms, prefs, pair, lead)
    if gate is not None:
        return gate
    raw = _raw_size(terms, lead, follower)
    if isinstance(raw, Skip):
        return raw
    return _limit(raw, prefs, pair, lead, follower, levels, mid)


def _gates(terms: FollowTerms, prefs: Preferences, pair: PairRules, lead: LeadFill) -> Skip | None:
    if terms.status != "active":
        return Skip(SkipReason.PAUSED, f"follow is {terms.status}")
    if not terms.auto_copy:
        return Skip(SkipReason.AUTO_COPY_OFF, "auto-copy is off for this follow")
    if not pair.active:
        return Skip(SkipReason.PAIR_INACTIVE, f"{pair.base}/{pair.quote} is not tradeable")
    if terms.copy_side is CopySide.ENTRIES_ONLY and lead.side is Side.SELL:
        return Skip(SkipReason.SIDE_FILTERED, "follow copies entries only")
    if terms.copy_side is CopySide.EXITS_ONLY and lead.side is Side.BUY:
        return Skip(SkipReason.SIDE_FILTERED, "follow copies exits only")
    allowed = prefs.allowed_assets
    if allowed is not None and not {pair.base, pair.quote} <= allowed:
        return Skip(SkipReason.ASSET_NOT_ALLOWED, f"{pair.base}/{pair.quote} not in allowed assets")
    category = _RISK_ORDER.get(lead.risk_category, 3)
    if category > _TOLERANCE_CEILING.get(prefs.risk_tolerance, 0):
        return Skip(
            SkipReason.RISK_CATEGORY,
            f"trader risk {lead.risk_category} exceeds tolerance {prefs.risk_tolerance}",
        )
    return None


def _raw_size(terms: FollowTerms, lead: LeadFill, follower: FollowerState) -> Decimal | Skip:
    """The copy size before any limit, from the follow's sizing mode."""
    if lead.side is Side.SELL:
        return _sell_size(lead, follower)
    if terms.sizing_mode is SizingMode.FIXED_QUOTE:
        quote = terms.fixed_quote_amount or ZERO
        return quote / lead.price
    if terms.sizing_mode is SizingMode.EQUITY_RATIO:
        if not lead.leader_equity or lead.leader_equity <= 0:
            return Skip(SkipReason.BELOW_MIN_SIZE, "leader equity unknown for equity sizing")
        ratio = follower.equity / lead.leader_equity
        return lead.amount * ratio * terms.copy_pct / HUNDRED
    return lead.amount * terms.copy_pct / HUNDRED


def _sell_size(lead: LeadFill, follower: FollowerState) -> Decimal | Skip:
    held = min(follower.base_from_lead, follower.base_held)
    if held <= 0:
        return Skip(SkipReason.NOTHING_TO_SELL, "no position built by copying this trader")
    before = lead.leader_position_before
    if before is None or before <= 0 or lead.amount >= before:
        return held
    return min(held, held * lead.amount / before)


def _limit(
    size: Decimal,
    prefs: Preferences,
    pair: PairRules,
    lead: LeadFill,
    follower: FollowerState,
    levels: BookLevels | BookDepth,
    mid: Decimal,
) -> Decision:
    notes: list[str] = []
    size, why = _clamp_notional(size, prefs, follower, lead.price, notes, lead.side)
    size = _round_down(size, pair.lot_size)
    if size < pair.min_size:
        reason = SkipReason.OVER_DAILY_LIMIT if why == "daily" else SkipReason.BELOW_MIN_SIZE
        return Skip(reason, f"size {size} below pair minimum {pair.min_size}" + _after(why))
    worst = _worst_price(lead.side, mid, prefs.max_slippage_pct)
    depth = (
        levels.fillable(worst, lead.side)
        if isinstance(levels, BookDepth)
        else fillable_within(levels, worst, lead.side)
    )
    fillable = _round_down(depth, pair.lot_size)
    if fillable < size:
        if fillable < pair.min_size:
            return Skip(SkipReason.SLIPPAGE, f"book fills only {fillable} within {worst}")
        notes.append(f"scaled down from {size} to {fillable} by depth")
        size = fillable
    if lead.side is Side.BUY:
        cost = size * worst * (1 + pair.fee_rate)
        if cost > follower.quote_balance:
            return Skip(
                SkipReason.INSUFFICIENT_BALANCE,
                f"needs up to {cost:.6f} {pair.quote}, has {follower.quote_balance}",
            )
    return CopyOrder(lead.side, size, mid, worst, tuple(notes))


def _clamp_notional(
    size: Decimal,
    prefs: Preferences,
    follower: FollowerState,
    price: Decimal,
    notes: list[str],
    side: Side,
) -> tuple[Decimal, str | None]:
    why: str | None = None
    if side is Side.SELL:
        return size, why  # exits are never blocked by entry limits
    if prefs.max_trade_amount is not None and size * price > prefs.max_trade_amount:
        size = prefs.max_trade_amount / price
        notes.append(f"clamped to max trade amount {prefs.max_trade_amount}")
        why = "max"
    if prefs.daily_limit is not None:
        room = max(ZERO, prefs.daily_limit - follower.traded_today)
        if size * price > room:
            size = room / price
            notes.append(f"clamped to daily limit room {room}")
            why = "daily"
    return size, why


def _after(why: str | None) -> str:
    return {"max": " after max trade clamp", "daily": " after daily limit clamp"}.get(why or "", "")


def _worst_price(side: Side, mid: Decimal, slippage_pct: Decimal) -> Decimal:
    factor = slippage_pct / HUNDRED
    return mid * (1 + factor) if side is Side.BUY else mid * (1 - factor)


def fillable_within(levels: BookLevels, worst: Decimal, side: Side) -> Decimal:
    """Largest size whose AVERAGE fill price stays within `worst`, walking the book.

    Levels beyond `worst` may still be partly used as long as the running average holds,
    since the user's bound is on the price he gets, not on each level.
    """
    filled = cost = ZERO
    for price, size in levels:
        if (side is Side.BUY and price <= worst) or (side is Side.SELL and price >= worst):
            filled, cost = filled + size, cost + price * size
            continue
        # a worse level: the largest q with (cost + p q) / (filled + q) still within worst
        room = (worst * filled - cost) if side is Side.BUY else (cost - worst * filled)
        gap = (price - worst) if side is Side.BUY else (worst - price)
        take = room / gap
        if take < size:
            return filled + max(take, ZERO)
        filled, cost = filled + size, cost + price * size
    return filled


def _round_down(value: Decimal, step: Decimal) -> Decimal:
    if value <= 0:
        return ZERO
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step

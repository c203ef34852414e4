"""Lead traders: deterministic identities and style-driven decisions over price history.

Each style reads the same per-second mid history and sizes its orders differently, so their
results diverge the way the styles would: gamblers swing, compounders and DCA grind. The
:class:`TraderBook` keeps cash and holdings so nobody sells what he does not hold or spends
what he does not have.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from oneclick_tui.domain.market_events import PairSpec, Side


class TraderStyle(StrEnum):
    """How a trader decides; drives both the signal and the position size."""

    TREND_FOLLOWER = "trend_follower"
    MEAN_REVERSION = "mean_reversion"
    SCALPER = "scalper"
    WHALE = "whale"
    GAMBLER = "reckless_gambler"
    COMPOUNDER = "steady_compounder"
    BREAKOUT = "breakout"
    MOMENTUM = "momentum"
    CONTRARIAN = "contrarian"
    DCA = "dca"


# style -> (risk category, decision period seconds, starting balance in USD)
_STYLE_TRAITS: dict[TraderStyle, tuple[str, int, int]] = {
    TraderStyle.TREND_FOLLOWER: ("medium", 30, 25_000),
    TraderStyle.MEAN_REVERSION: ("medium", 20, 20_000),
    TraderStyle.SCALPER: ("high", 5, 10_000),
    TraderStyle.WHALE: ("high", 300, 400_000),
    TraderStyle.GAMBLER: ("extreme", 45, 5_000),
    TraderStyle.COMPOUNDER: ("low", 60, 40_000),
    TraderStyle.BREAKOUT: ("high", 15, 15_000),
    TraderStyle.MOMENTUM: ("medium", 20, 30_000),
    TraderStyle.CONTRARIAN: ("medium", 40, 18_000),
    TraderStyle.DCA: ("low", 300, 12_000),
}

_ADJECTIVES = (
    "Quiet", "Swift", "Lucky", "Iron", "Neon", "Lunar", "Brave", "Zen", "Rapid", "Stoic",
    "Wild", "Silver", "Crimson", "Golden", "Patient", "Hungry", "Frosty", "Solar",
)  # fmt: skip
_NOUNS = (
    "Otter", "Falcon", "Whale", "Badger", "Mantis", "Lynx", "Heron", "Bison", "Koi",
    "Raven", "Fox", "Panda", "Wolf", "Orca", "Gecko", "Yak",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TraderProfile:
    """Who a lead trader is; stored by the lead as a ``traders`` row."""

    address: str
    name: str
    style: TraderStyle
    risk_category: str
    pair: str
    balance_asset: str
    starting_balance: Decimal
    decision_period: int  # seconds between decisions
    phase: int  # offset so traders do not all decide on the same second


def aptos_address(seed: int, label: str) -> str:
    """Deterministic 0x + 64 hex address from the seed (looks like an Aptos account)."""
    return "0x" + hashlib.sha3_256(f"oneclick-sim:{seed}:{label}".encode()).hexdigest()


def make_traders(
    seed: int, pairs: Sequence[PairSpec], count: int = 24, quote_usd: dict[str, float] | None = None
) -> tuple[TraderProfile, ...]:
    """``count`` traders cycling through the styles, spread over ``pairs``."""
    rng = random.Random(f"{seed}:traders")
    usd = quote_usd or {"USDC": 1.0, "USDT": 1.0, "APT": 8.45}
    styles = list(TraderStyle)
    used: set[str] = set()
    profiles = []
    for i in range(count):
        style = styles[i % len(styles)]
        risk, period, balance_usd = _STYLE_TRAITS[style]
        pair = pairs[(i * 7 + i // len(styles)) % len(pairs)]
        name = f"{rng.choice(_ADJECTIVES)}{rng.choice(_NOUNS)}"
        while name in used:
            name = f"{name}{rng.randint(2, 99)}"
        used.add(name)
        balance = Decimal(round(balance_usd * rng.uniform(0.7, 1.3) / usd.get(pair.quote, 1.0)))
        profiles.append(
            TraderProfile(
                address=aptos_address(seed, f"trader:{i}"),
                name=name,
                style=style,
                risk_category=risk,
                pair=pair.symbol,
                balance_asset=pair.quote,
                starting_balance=balance,
                decision_period=period,
                phase=rng.randrange(period),
            )
        )
    return tuple(profiles)


@dataclass(slots=True)
class Intent:
    """What a trader wants: buy with ``quote`` cash, or sell ``base`` units."""

    side: Side
    quote: float = 0.0
    base_fraction: float = 0.0  # of holdings, for sells


class TraderBook:
    """Mutable account of one trader: cash in the quote asset, holdings in the base."""

    __slots__ = ("cash", "entry", "holdings", "profile", "rng", "trades")

    def __init__(self, profile: TraderProfile, rng: random.Random) -> None:
        self.profile = profile
        self.rng = rng
        self.cash = profile.starting_balance
        self.holdings = Decimal(0)
        self.entry = 0.0  # average entry price (float: signals only)
        self.trades = 0

    def equity(self, mid: Decimal) -> Decimal:
        """Cash plus holdings at ``mid``, in the quote asset."""
        return self.cash + self.holdings * mid

    def decide(self, history: deque[float]) -> Intent | None:
        """The style's decision on the per-second mid history (newest last)."""
        if len(history) < 30:
            return None
        return _DECIDERS[self.profile.style](self, list(history), float(self.cash))


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _ret(h: Sequence[float], lookback: int) -> float:
    return h[-1] / h[-min(lookback, len(h))] - 1.0


def _holding(t: TraderBook) -> bool:
    return t.holdings > 0


def _trend(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    fast, slow = _mean(h[-120:]), _mean(h[-900:])
    if fast > slow * 1.0015 and not _holding(t):
        return Intent(Side.BUY, quote=cash * 0.4)
    if fast < slow * 0.9995 and _holding(t):
        return Intent(Side.SELL, base_fraction=1.0)
    return None


def _mean_reversion(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    window = h[-120:]
    mean = _mean(window)
    std = math.sqrt(_mean([(x - mean) ** 2 for x in window])) or 1e-12
    z = (h[-1] - mean) / std
    if z < -1.8 and cash > 0:
        return Intent(Side.BUY, quote=cash * 0.3)
    if z > 1.0 and _holding(t):
        return Intent(Side.SELL, base_fraction=1.0)
    return None


def _scalper(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    if _holding(t):
        if h[-1] > t.entry * 1.0007 or h[-1] < t.entry * 0.9988:
            return Intent(Side.SELL, base_fraction=1.0)
        return None
    if _ret(h, 15) < -0.0004:
        return Intent(Side.BUY, quote=cash * 0.15)
    return None


def _whale(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    if t.rng.random() > 0.35:
        return None
    if h[-1] < _mean(h[-900:]) and cash > 0:
        return Intent(Side.BUY, quote=cash * 0.1)
    if _holding(t):
        return Intent(Side.SELL, base_fraction=0.5)
    return None


def _gambler(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    roll = t.rng.random()
    if _holding(t) and (roll < 0.25 or _ret(h, 30) < -0.002):
        return Intent(Side.SELL, base_fraction=1.0)  # panic or boredom
    if not _holding(t) and (roll > 0.6 or _ret(h, 30) > 0.001):
        return Intent(Side.BUY, quote=cash * 0.95)  # all in, FOMO
    return None


def _compounder(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    if _holding(t):
        if h[-1] > t.entry * 1.004:
            return Intent(Side.SELL, base_fraction=0.5)
        if h[-1] < t.entry * 0.993:
            return Intent(Side.SELL, base_fraction=1.0)  # disciplined stop
    if h[-1] < _mean(h[-600:]) * 0.999 and cash > float(t.profile.starting_balance) * 0.5:
        return Intent(Side.BUY, quote=cash * 0.08)
    return None


def _breakout(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    window = h[-301:-1]
    if h[-1] > max(window) and not _holding(t):
        return Intent(Side.BUY, quote=cash * 0.5)
    if h[-1] < min(window) and _holding(t):
        return Intent(Side.SELL, base_fraction=1.0)
    return None


def _momentum(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    r = _ret(h, 300)
    if r > 0.003 and cash > 0:
        return Intent(Side.BUY, quote=cash * 0.3)
    if r < -0.0015 and _holding(t):
        return Intent(Side.SELL, base_fraction=1.0)
    return None


def _contrarian(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    r = _ret(h, 300)
    if r < -0.003 and cash > 0:
        return Intent(Side.BUY, quote=cash * 0.3)
    if r > 0.003 and _holding(t):
        return Intent(Side.SELL, base_fraction=1.0)
    return None


def _dca(t: TraderBook, h: list[float], cash: float) -> Intent | None:
    if _holding(t) and h[-1] > t.entry * 1.015:
        return Intent(Side.SELL, base_fraction=0.25)
    return Intent(Side.BUY, quote=min(cash, float(t.profile.starting_balance) * 0.03))


_DECIDERS = {
    TraderStyle.TREND_FOLLOWER: _trend,
    TraderStyle.MEAN_REVERSION: _mean_reversion,
    TraderStyle.SCALPER: _scalper,
    TraderStyle.WHALE: _whale,
    TraderStyle.GAMBLER: _gambler,
    TraderStyle.COMPOUNDER: _compounder,
    TraderStyle.BREAKOUT: _breakout,
    TraderStyle.MOMENTUM: _momentum,
    TraderStyle.CONTRARIAN: _contrarian,
    TraderStyle.DCA: _dca,
}

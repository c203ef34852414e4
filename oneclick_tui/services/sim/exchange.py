"""The simulated exchange: one deterministic event stream for every pair and lead trader.

Time is simulated: the caller advances the clock (``--speed`` is just bigger steps) and gets
back the events that happened, in time order. The same seed and start time give the same
stream however the advances are chunked. No I/O: the caller routes events to bus and stores.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from oneclick_tui.domain.market_events import (
    LeadTrade,
    Level,
    MarketEvent,
    MarketTrade,
    PairSpec,
    Side,
)
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.sim.book_maker import BookMaker
from oneclick_tui.services.sim.pairs import PAIRS
from oneclick_tui.services.sim.price_process import PriceProcess
from oneclick_tui.services.sim.traders import (
    Intent,
    TraderBook,
    TraderProfile,
    make_traders,
)

_US = 1_000_000
_QUOTE_USD = {"USDC": 1.0, "USDT": 1.0, "APT": 8.45}
_FIRST_VERSION = 3_100_000_000


class _PairSim:
    """Everything that moves one pair: mid process, maker, noise takers, mid history."""

    def __init__(self, spec: PairSpec, seed: int, levels: int) -> None:
        self.spec = spec
        self.price = PriceProcess(spec, random.Random(f"{seed}:price:{spec.symbol}"))
        self.maker = BookMaker(spec, random.Random(f"{seed}:maker:{spec.symbol}"), levels)
        self.flow = random.Random(f"{seed}:flow:{spec.symbol}")
        self.history: deque[float] = deque(maxlen=1200)
        self.last_mid = self.price.mid_float


class SimExchange:
    """Simulated Aptos market; ``advance`` returns BookSnapshot/BookDelta/Trade events."""

    def __init__(
        self,
        seed: int,
        start_at: datetime,
        *,
        pairs: Sequence[PairSpec] = PAIRS,
        trader_count: int = 24,
        levels: int = 25,
        step: timedelta = timedelta(milliseconds=200),
        snapshot_every: timedelta = timedelta(seconds=30),
        trades_per_second: float = 0.8,
    ) -> None:
        if start_at.tzinfo is None:
            raise ValueError("start_at must be timezone-aware (UTC)")
        if step <= timedelta(0) or _US % (step // timedelta(microseconds=1)):
            raise ValueError("step must be a positive divisor of one second")
        self.seed = seed
        self.start_at = start_at
        self._pairs = {p.symbol: _PairSim(p, seed, levels) for p in pairs}
        self.traders: tuple[TraderProfile, ...] = make_traders(seed, pairs, trader_count)
        self._accounts = {
            t.address: TraderBook(t, random.Random(f"{seed}:trader:{t.address}"))
            for t in self.traders
        }
        self._step_us = step // timedelta(microseconds=1)
        self._snapshot_us = snapshot_every // timedelta(microseconds=1)
        self._rate = trades_per_second
        self._elapsed_us = 0
        self._pending_us = 0
        self._last_snapshot_us: int | None = None
        self._trade_id = 0
        self._version = _FIRST_VERSION
        self._chain = random.Random(f"{seed}:chain")

    # ---------------------------------------------------------------- queries
    @property
    def now(self) -> datetime:
        """Simulated time of the last processed step."""
        return self.start_at + timedelta(microseconds=self._elapsed_us)

    @property
    def pairs(self) -> tuple[PairSpec, ...]:
        """The simulated pairs, in event order."""
        return tuple(p.spec for p in self._pairs.values())

    def book(self, symbol: str) -> OrderBook:
        """The maker's live book (treat as read-only)."""
        return self._pairs[symbol].maker.book

    def account(self, address: str) -> TraderBook:
        """A lead trader's live cash and holdings (treat as read-only)."""
        return self._accounts[address]

    # --------------------------------------------------------------- stepping
    def advance(self, dt: timedelta | float) -> list[MarketEvent]:
        """Advance the clock by ``dt`` (timedelta or seconds); returns events in time order."""
        if not isinstance(dt, timedelta):
            dt = timedelta(seconds=dt)
        if dt < timedelta(0):
            raise ValueError("time only moves forward")
        self._pending_us += dt // timedelta(microseconds=1)
        events: list[MarketEvent] = []
        while self._pending_us >= self._step_us:
            self._pending_us -= self._step_us
            self._step(events)
        return events

    def _step(self, events: list[MarketEvent]) -> None:
        first = self._last_snapshot_us is None
        self._elapsed_us += self._step_us
        at = self.now
        dt = self._step_us / _US
        snap = first or self._elapsed_us - (self._last_snapshot_us or 0) >= self._snapshot_us
        whole_second = self._elapsed_us % _US == 0
        for sim in self._pairs.values():
            sim.last_mid, mid = sim.price.mid_float, sim.price.step(dt)
            deltas = sim.maker.requote(mid, at)
            if not first:  # the opening book is published as the first snapshot only
                events.extend(deltas)
            if snap:
                events.append(sim.maker.snapshot(at))
            if sim.flow.random() < self._rate * dt:
                self._noise_trade(sim, mid, at, events)
            if whole_second:
                sim.history.append(mid)
        if snap:
            self._last_snapshot_us = self._elapsed_us
        if whole_second:
            second = self._elapsed_us // _US
            for account in self._accounts.values():
                prof = account.profile
                if (second + prof.phase) % prof.decision_period == 0:
                    sim = self._pairs[prof.pair]
                    intent = account.decide(sim.history)
                    if intent is not None:
                        self._lead_trade(account, sim, intent, at, events)

    # ----------------------------------------------------------------- trades
    def _noise_trade(self, sim: _PairSim, mid: float, at: datetime, out: list[MarketEvent]) -> None:
        rng = sim.flow
        up_bias = 0.08 if mid > sim.last_mid else -0.08
        side = Side.BUY if rng.random() < 0.5 + up_bias else Side.SELL
        usd = rng.lognormvariate(math.log(400.0), 1.2)
        base = usd / _QUOTE_USD.get(sim.spec.quote, 1.0) / mid
        size = sim.spec.floor_size(Decimal(f"{base:.10f}"))
        if size >= sim.spec.min_size:
            self._fill(sim, side, size, at, out)

    def _fill(
        self, sim: _PairSim, side: Side, size: Decimal, at: datetime, out: list[MarketEvent]
    ) -> list[Level]:
        fills, deltas = sim.maker.take(side, size, at)
        out.extend(deltas)
        for price, qty in fills:
            self._trade_id += 1
            out.append(MarketTrade(sim.spec.symbol, self._trade_id, side, price, qty, at))
        return fills

    def _fee(self, spec: PairSpec, notional: Decimal) -> Decimal:
        exp = Decimal(1).scaleb(-spec.quote_decimals)
        return (notional * spec.taker_fee).quantize(exp, rounding=ROUND_CEILING)

    def _lead_trade(
        self,
        account: TraderBook,
        sim: _PairSim,
        intent: Intent,
        at: datetime,
        out: list[MarketEvent],
    ) -> None:
        spec = sim.spec
        if intent.side is Side.BUY:
            size = self._affordable_size(account, sim, intent.quote)
        elif intent.base_fraction >= 1.0:
            size = account.holdings  # a full exit may be below min size: dust is allowed out
        else:
            fraction = Decimal(f"{intent.base_fraction:.6f}")
            size = min(spec.floor_size(account.holdings * fraction), account.holdings)
            if size < spec.min_size:
                return
        if size <= 0 or (intent.side is Side.BUY and size < spec.min_size):
            return
        fills = self._fill(sim, intent.side, size, at, out)
        filled = sum((q for _, q in fills), Decimal(0))
        if not filled:
            return
        notional = sum((p * q for p, q in fills), Decimal(0))
        fee = min(self._fee(spec, notional), notional)  # dust exits never cost more than paid
        if intent.side is Side.BUY:
            old = float(account.holdings)
            account.cash -= notional + fee
            account.holdings += filled
            account.entry = (account.entry * old + float(notional)) / float(account.holdings)
            rounding = ROUND_CEILING
        else:
            account.cash += notional - fee
            account.holdings -= filled
            rounding = ROUND_FLOOR
        account.trades += 1
        avg = (notional / filled / spec.tick_size).to_integral_value(rounding) * spec.tick_size
        self._version += self._chain.randint(1, 400)
        address = account.profile.address
        tx = hashlib.sha3_256(f"{self.seed}:{self._version}:{address}".encode()).hexdigest()
        out.append(
            LeadTrade(address, spec.symbol, intent.side, filled, avg, fee, "0x" + tx,
                      self._version, at)
        )  # fmt: skip

    def _affordable_size(self, account: TraderBook, sim: _PairSim, quote: float) -> Decimal:
        """Largest lot-rounded size whose walked cost plus fee fits in cash (0 if none)."""
        spec, book = sim.spec, sim.maker.book
        ask = book.best_ask()
        budget = min(Decimal(f"{quote:.8f}"), account.cash)
        if ask is None or budget <= 0:
            return Decimal(0)
        size = spec.floor_size(budget / ask[0])
        for _ in range(6):
            if size < spec.min_size:
                return Decimal(0)
            est = book.estimate_fill(Side.BUY, size)
            cost = est.notional + self._fee(spec, est.notional)
            if cost <= account.cash:
                return size
            size = spec.floor_size(size * account.cash / cost * Decimal("0.995"))
        return Decimal(0)

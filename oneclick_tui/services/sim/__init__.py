"""Deterministic simulated Aptos market: pairs, prices, books, trades and lead traders."""

from oneclick_tui.services.sim.exchange import SimExchange
from oneclick_tui.services.sim.pairs import PAIRS, pair_by_symbol
from oneclick_tui.services.sim.traders import TraderProfile, TraderStyle

__all__ = ["PAIRS", "SimExchange", "TraderProfile", "TraderStyle", "pair_by_symbol"]

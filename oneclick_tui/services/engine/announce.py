"""What both engines (simulated and live) say about their work: log lines and bus messages.

One place, so the console and a log reader see the same fields whichever engine runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from oneclick_tui.domain.market_events import LeadTrade
from oneclick_tui.services.engine.copy_engine import FanOut

log = logging.getLogger("oneclick.engine")


def log_event(name: str, **fields: Any) -> None:
    """One structured log line per engine event (JSON after the message)."""
    log.info("%s %s", name, json.dumps(fields, default=str, separators=(",", ":")))


def _lead_fields(lead: LeadTrade) -> dict[str, Any]:
    return {
        "trader": lead.trader_address,
        "pair": lead.pair,
        "side": lead.side.value,
        "amount": str(lead.amount),
        "price": str(lead.price),
        "tx_hash": lead.tx_hash,
        "version": lead.version,
    }


def lead_trade_message(lead: LeadTrade, result: FanOut) -> dict[str, Any]:
    """The `lead_trades` bus message: the trade and what the fan-out decided."""
    return {
        **_lead_fields(lead),
        "at": lead.at.isoformat(),
        "copies": result.copies,
        "skips": result.skips,
    }


def log_lead_trade(lead: LeadTrade, result: FanOut, **extra: Any) -> None:
    """The `lead_trade` log line: the trade and the fan-out's outcome."""
    log_event(
        "lead_trade",
        **extra,
        **_lead_fields(lead),
        copies=result.copies,
        completed=result.completed,
        failed=result.failed,
        skips=result.skips,
    )

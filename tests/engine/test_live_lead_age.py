"""A lead trade seen long after it traded (engine down, node behind) is not copied at
today's prices: it is recorded, and each follower gets a `lead_too_old` skip.

Fullnode and Decibel are tests/aptos_standin.py's stand-ins (no Aptos here).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.aptos_standin import HYPERION_BUY_APT_USDC, StandinDecibel, StandinNode
from tests.engine.test_live_engine import (  # noqa: F401  (fixtures: chain, db)
    LEAD,
    _cursor,
    _follow_lead,
    _settings,
    _settled,
    chain,
    db,
    eventually,
    live_engine,
)


def _traded_minutes_ago(minutes: float) -> Any:
    def edit(tx: dict[str, Any]) -> None:
        tx["timestamp"] = str(int((time.time() - minutes * 60) * 1_000_000))

    return edit


async def test_a_late_lead_trade_is_recorded_and_skipped_a_fresh_one_copied(
    chain: tuple[StandinNode, StandinDecibel],  # noqa: F811
    db: tuple[str, async_sessionmaker[AsyncSession]],  # noqa: F811
) -> None:
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, max_lead_age_s=60)
    user = await _follow_lead(settings)
    async with live_engine(settings):
        # a new follow starts at the lead's sequence number when the engine first polls:
        # a trade added before that would be history, never copied nor skipped
        await eventually(lambda: _cursor(sessions), what="the engine watching the lead")
        late = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC, _traded_minutes_ago(10))
        lead, (skip,) = await eventually(lambda: _settled(sessions, late["hash"]), what="late")
        assert lead.kind == "lead" and lead.tx_hash == late["hash"]
        assert (skip.user_id, skip.status, skip.skip_reason) == (user, "skipped", "lead_too_old")
        fresh = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        _, (copy,) = await eventually(lambda: _settled(sessions, fresh["hash"]), what="fresh")
        assert copy.status == "completed", copy.skip_reason or copy.failure_reason

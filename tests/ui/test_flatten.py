"""The panic key: `!` asks first, then every copied position is sold at market."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from oneclick_tui.widgets.modals import ConfirmModal
from tests.ui.conftest import Console, wait_until


async def _held(app) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    rows = await app.ctx.follows.positions()
    return {p.asset: p.quantity for p in rows if p.asset not in ("USDC", "USDT")}


async def _steady(app) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    """Holdings once they stop changing (a fan-out in flight when follows paused lands)."""
    last = await _held(app)
    for _ in range(200):
        await asyncio.sleep(0.3)
        now = await _held(app)
        if now == last:
            return {a: q for a, q in now.items() if q > 0}
        last = now
    raise AssertionError("holdings never settled after pausing every follow")


async def test_panic_key_confirms_then_flattens_every_copied_position(console: Console) -> None:
    async with console() as (app, pilot):
        followed = []
        for trader in await app.ctx.follows.traders():
            if trader.risk_category in ("low", "medium"):
                await app.ctx.follows.follow(trader.name, Decimal(25))
                followed.append(trader.name)
        held: dict[str, Decimal] = {}
        for _ in range(600):  # the simulator at 50x: copies land within seconds
            held = {a: q for a, q in (await _held(app)).items() if q > 0}
            if held:
                break
            await asyncio.sleep(0.1)
        assert held, "no copied position appeared"
        # no new copies from here on: what flatten must sell is then a fixed set
        for name in followed:
            await app.ctx.follows.pause(name)
        held = await _steady(app)

        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("n")  # cancelling sells nothing
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmModal), 10, "closed")
        assert not [t for t in await app.ctx.follows.trades(500) if t.kind == "manual"]

        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        sells: list = []
        for _ in range(300):
            sells = [t for t in await app.ctx.follows.trades(500) if t.kind == "manual"]
            if sells and all(t.status != "pending" for t in sells):
                break
            await asyncio.sleep(0.1)
        assert sells, "no flatten order was recorded"
        assert {t.side for t in sells} == {"sell"}
        assert {t.pair.split("/")[0] for t in sells} == set(held)  # one sell per holding
        completed = [t for t in sells if t.status == "completed"]
        assert completed, [(t.status, t.reason) for t in sells]
        after = await _held(app)
        for trade in completed:  # sized to the whole holding; what is left is what did not fill
            base = trade.pair.split("/")[0]
            assert 0 < trade.amount <= held[base]
            assert after.get(base, Decimal(0)) == held[base] - trade.amount

"""The real copy engine runs as the `<db>_engine` role: its grants and policies are enough."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import text

from oneclick_tui.domain.market_events import LeadTrade, Side
from oneclick_tui.services.engine.catalog import seed_catalog
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.stores.db import make_engine, session_factory
from oneclick_tui.stores.repositories import Repositories
from oneclick_tui.stores.security.audit_chain import verify
from oneclick_tui.stores.security.rls import user_transaction
from tests.engine.test_copy_engine import LEAD, PAIR, T0, book
from tests.security.conftest import HardenedDb

pytestmark = pytest.mark.postgres


async def test_copy_engine_as_engine_role_and_console_as_app_role(hardened: HardenedDb) -> None:
    admin = make_engine(hardened.admin_url)
    admin_sessions = session_factory(admin)
    repos = Repositories.over(admin_sessions)
    catalog = await seed_catalog(admin_sessions, [PAIR], [LEAD], simulated=True)
    users = []
    for name in ("alice", "carol"):
        user, _ = await repos.users.create(display_name=name, risk_tolerance="medium")
        await repos.positions.upsert(user.id, "USDC", quantity=D("1000"), average_cost=D(1))
        await repos.follows.follow(user.id, catalog.traders[LEAD.address].id, copy_percentage=D(25))
        users.append(user.id)
    await admin.dispose()

    engine_db = hardened.engine_as("engine")
    try:
        copier = CopyEngine(session_factory(engine_db), catalog, {"APT/USDC": book()})
        trade = LeadTrade(
            LEAD.address, "APT/USDC", Side.BUY, D("40"), D("10.01"), D("0.01"),
            "0x" + f"{1:064x}", 1, T0,
        )  # fmt: skip
        result = await copier.on_lead_trade(trade)
        assert result.copies == 2 and result.completed == 2
    finally:
        await engine_db.dispose()

    app_db = hardened.engine_as("app")
    try:
        async with user_transaction(session_factory(app_db), users[0]) as s:
            mine = (await s.execute(text("SELECT user_id, status FROM user_trade_history"))).all()
        assert mine == [(users[0], "completed")]
    finally:
        await app_db.dispose()
    report = await verify(hardened.url_as("auditor"))
    assert report.ok, report.problems

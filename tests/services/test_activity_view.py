"""The audit log view: before→after summaries and incremental reads without gaps."""

from __future__ import annotations

from oneclick_tui.config import Settings
from oneclick_tui.services import audit
from oneclick_tui.services.activity_view import ActivityView, summarize
from oneclick_tui.services.runtime import open_services


def test_summary_of_an_edit_and_of_an_engine_decision() -> None:
    assert summarize({"stop_loss_pct": "15"}, {"stop_loss_pct": "20"}) == "stop_loss_pct: 15→20"
    assert summarize({"user_id": 1}, {"reason": "risk_category"}) == (
        "user_id=1 → reason=risk_category"
    )
    assert summarize({"status": "live"}, {"status": "ended", "trader_id": 3}) == (
        "status: live→ended; trader_id=3"
    )
    assert summarize(None, {"notes": ["a", "b"]}) == "notes=[a,b]"
    assert summarize({"a": 1}, None) == "a=1 → ∅"
    assert summarize(None, None) == ""
    assert len(summarize(None, {"x": "y" * 500}, width=40)) == 40


async def test_recent_is_newest_first_and_reads_forward_after_an_id(
    fresh_sqlite_url: str,
) -> None:
    services = await open_services(Settings(database_url=fresh_sqlite_url))
    try:
        for i in range(7):
            await audit.record(
                services.sessions, "user:1", f"act.{i}", "thing", str(i), None, {"i": i}
            )
        view = ActivityView(services)
        newest = await view.recent(limit=3)
        assert [r.action for r in newest] == ["act.6", "act.5", "act.4"]
        first = min(r.id for r in await view.recent(limit=100))
        page = await view.recent(limit=3, after_id=first)
        assert [r.action for r in page] == ["act.3", "act.2", "act.1"]
        assert page[0].entity == "thing:3" and page[0].summary == "i=3"
        assert await view.recent(after_id=newest[0].id) == []
    finally:
        await services.close()

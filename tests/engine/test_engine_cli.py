"""The engine from the command line, as a user runs it, on SQLite and the real PostgreSQL.

Follow three simulated traders with different terms, run the headless engine for a bounded
simulated while, and check what `oneclick trades --json` and `oneclick positions --json`
report against an independent average-cost recomputation from the trades themselves. And:
SIGTERM stops the engine cleanly with its cursor saved, and a second run goes on from there
without copying anything twice.
"""

from __future__ import annotations

import json
import signal
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.services.accounts import PAPER_CASH
from oneclick_tui.stores.db import make_engine, session_factory
from oneclick_tui.stores.models import ChainCursor, Trade
from tests.engine.helpers import Fill, Ledger, close, run_cli, start_engine, wait_until

FOLLOWS = {
    "ZenWolf": ["--copy-pct", "25"],
    "SwiftGecko": ["--sizing", "fixed_quote", "--fixed-quote", "100"],
    "NeonWolf": ["--copy-pct", "50", "--side", "entries_only"],
}
ENGINE = ["engine", "--network", "sim", "--seed", "7", "--speed", "300"]


@pytest.fixture
async def db(fresh_db_url: str) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    run_cli(fresh_db_url, "db", "upgrade")
    engine = make_engine(fresh_db_url)
    yield fresh_db_url, session_factory(engine)
    await engine.dispose()


def _json(url: str, *args: str) -> Any:
    return json.loads(run_cli(url, *args, "--json").stdout)


def _follow_all(url: str) -> None:
    for name, terms in FOLLOWS.items():
        follow = _json(url, "follow", name, *terms)
        assert follow["status"] == "active"
    follows = {f["trader"]: f for f in _json(url, "follows")}
    assert set(follows) == set(FOLLOWS)
    assert follows["SwiftGecko"]["sizing_mode"] == "fixed_quote"
    assert follows["NeonWolf"]["copy_side"] == "entries_only"
    assert D(follows["ZenWolf"]["copy_pct"]) == 25


def _recompute(trades: list[dict[str, Any]]) -> tuple[Ledger, dict[int, D]]:
    """Positions and per-trade realized PnL from the completed trades, oldest first."""
    ledger = Ledger()
    for asset, amount in PAPER_CASH.items():
        book = ledger.book(asset)
        book.quantity, book.cost = amount, amount
    realized: dict[int, D] = {}
    done = [t for t in trades if t["status"] == "completed"]
    for t in sorted(done, key=lambda t: (datetime.fromisoformat(t["created_at"]), t["id"])):
        base, quote = t["pair"].split("/")
        before = ledger.book(base).realized
        ledger.apply(
            Fill(
                base,
                quote,
                t["side"],
                D(t["amount"]),
                D(t["price"]),
                D(t["fees"]),
                D(t["total_value"]),
            )
        )
        realized[t["id"]] = ledger.book(base).realized - before
    return ledger, realized


@pytest.mark.timeout(600)
async def test_follow_run_and_report_agree_with_a_recomputation(
    db: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    url, _sessions = db
    _follow_all(url)
    run = run_cli(url, *ENGINE, "--duration", "900", timeout=300)
    assert "engine.started" in run.stderr and "engine.stopped" in run.stderr

    trades = _json(url, "trades", "--limit", "100000")
    positions = {p["asset"]: p for p in _json(url, "positions")}
    copies = [t for t in trades if t["kind"] == "copy"]
    by_status = defaultdict(list)
    for t in copies:
        by_status[t["status"]].append(t)
    assert by_status["completed"], "no copy completed"
    assert by_status["skipped"], "no copy skipped"
    assert set(by_status) <= {"completed", "skipped", "failed"}, "left pending"
    assert {t["trader"] for t in copies} <= set(FOLLOWS)
    for skip in by_status["skipped"]:
        assert skip["reason"], f"skip {skip['id']} has no reason"
    # entries_only never sells; fixed_quote buys ~100 USDC each
    neon = [t for t in copies if t["trader"] == "NeonWolf"]
    assert all(t["side"] == "buy" or t["status"] == "skipped" for t in neon)
    assert any(t["reason"] == "side_filtered" for t in neon if t["side"] == "sell") or not [
        t for t in neon if t["side"] == "sell"
    ]
    gecko_buys = [
        t
        for t in by_status["completed"]
        if t["trader"] == "SwiftGecko" and t["side"] == "buy" and t["pair"].endswith("USDC")
    ]
    for t in gecko_buys:
        assert D(t["total_value"]) <= D("103"), t  # 100 at the lead price, filled within 1% of mid

    ledger, realized = _recompute(trades)
    for t in by_status["completed"]:
        assert close(D(t["realized_pnl"]), realized[t["id"]]), t
    for asset, book in ledger.assets.items():
        if book.quantity == 0 and asset not in positions:
            continue
        shown = positions[asset]
        assert close(D(shown["quantity"]), book.quantity), (asset, shown, book)
        assert close(D(shown["realized_pnl"]), book.realized), (asset, shown, book)
    assert set(positions) <= set(ledger.assets)


async def _cursor(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str] | None:
    async with sessions() as s:
        row = await s.get(ChainCursor, "sim:7")
    return None if row is None else json.loads(row.cursor)


async def _lead_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        query = select(func.count()).select_from(Trade).where(Trade.kind == "lead")
        return int(await s.scalar(query) or 0)


async def _records(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as s:
        query = select(Trade.id, Trade.user_id, Trade.copy_of_trade_id, Trade.status).where(
            Trade.kind == "copy"
        )
        return sorted(tuple(r) for r in (await s.execute(query)).all())


@pytest.mark.timeout(600)
async def test_sigterm_stops_cleanly_and_a_second_run_continues_without_duplicates(
    db: tuple[str, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    url, sessions = db
    _follow_all(url)
    log = tmp_path / "engine.log"
    proc = start_engine(url, log, *ENGINE[1:])
    try:

        def busy() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            return log.read_text().count("lead_trade ") >= 20

        wait_until(busy, 120, what="lead trades")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "engine.stopped" in text
    cursor = await _cursor(sessions)
    assert cursor is not None
    async with sessions() as s:
        last_lead = await s.scalar(select(func.max(Trade.created_at)).where(Trade.kind == "lead"))
    assert last_lead is not None
    assert datetime.fromisoformat(cursor["sim_now"]) >= last_lead, "cursor behind the work done"

    leads_before = await _lead_count(sessions)
    records_before = await _records(sessions)
    assert records_before, "nothing recorded before SIGTERM"
    second = run_cli(url, *ENGINE, "--duration", "600", timeout=300)
    assert "engine.stopped" in second.stderr
    after = await _cursor(sessions)
    assert after is not None and after["start_at"] == cursor["start_at"]
    assert after["sim_now"] > cursor["sim_now"]
    assert await _lead_count(sessions) > leads_before, "the second run did not go on"
    records_after = await _records(sessions)
    old_leads = {r[2] for r in records_before}
    again = [r for r in records_after if r[2] in old_leads]
    assert [r[:3] for r in again] == [r[:3] for r in records_before], "old leads re-recorded"
    pairs = [(r[1], r[2]) for r in records_after]
    assert len(pairs) == len(set(pairs)), "a (follower, lead trade) pair recorded twice"
    assert not [r for r in records_after if r[3] == "pending"]


# --- signing: built as Hyperion swaps, signed off the event loop, hash in the audit row ----


async def test_copies_of_followers_with_keys_are_signed_off_the_event_loop(
    fresh_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oneclick_tui.domain.market_events import LeadTrade, Side
    from oneclick_tui.domain.orderbook import OrderBook
    from oneclick_tui.services.engine import signer as signer_mod
    from oneclick_tui.services.engine.catalog import TraderProfile, seed_catalog
    from oneclick_tui.services.engine.copy_engine import CopyEngine
    from oneclick_tui.services.sim.pairs import pair_by_symbol
    from oneclick_tui.services.wallet import contracts
    from oneclick_tui.services.wallet.keys import generate_key
    from oneclick_tui.services.wallet.signing import decode_signed
    from oneclick_tui.stores.db import ensure_schema
    from oneclick_tui.stores.models import AuditLog
    from tests.engine.helpers import seed_followers

    await ensure_schema(fresh_sqlite_url)
    engine = make_engine(fresh_sqlite_url)
    sessions = session_factory(engine)
    pair = pair_by_symbol("APT/USDC")
    lead_profile = TraderProfile("0x" + "cd" * 32, "Signer Lead", "medium", "trend", D(100_000))
    catalog = await seed_catalog(sessions, [pair], [lead_profile], simulated=True)
    trader_id = catalog.traders[lead_profile.address].id
    ids = await seed_followers(sessions, {0: [trader_id], 1: [trader_id]}, 2, {"USDC": D(10_000)})
    keys = {ids[0]: generate_key()}  # the second follower has no key: copied, not signed
    threads: list[str] = []
    real_sign = signer_mod.sign_payload

    def spy(*args: Any, **kwargs: Any) -> Any:
        import threading

        threads.append(threading.current_thread().name)
        return real_sign(*args, **kwargs)

    monkeypatch.setattr(signer_mod, "sign_payload", spy)
    book = OrderBook(pair.symbol)
    book.load(1, [(D("8.44"), D("1000"))], [(D("8.46"), D("1000"))])
    signer = signer_mod.CopySigner(keys)
    copier = CopyEngine(sessions, catalog, {pair.symbol: book}, signer=signer)
    lead = LeadTrade(
        lead_profile.address,
        pair.symbol,
        Side.BUY,
        D("100"),
        D("8.46"),
        D("0.01"),
        "0x" + "01" * 32,
        1,
        datetime.fromisoformat("2026-11-24T12:00:00+00:00"),
    )
    try:
        result = await copier.on_lead_trade(lead)
        async with sessions() as s:
            # paper: one audit row per copy, decision + signed hash + fill, keyed by the copy
            decided: dict[str | None, Any] = {
                f"{a.before['user_id']}:{a.before['lead_trade_id']}": a.after
                for a in await s.scalars(
                    select(AuditLog).where(AuditLog.action == "copy.completed")
                )
            }
    finally:
        await copier.aclose()
        signer.close()
        await engine.dispose()

    assert result.copies == 2 and result.completed == 2
    # a small fan-out is signed in its own transaction's thread, a large one in the pool:
    # never on the loop that answers the console's keys
    loop_thread = threading.current_thread().name
    assert threads and all(name != loop_thread for name in threads), threads
    assert all(name.startswith(("sign", "fanout-")) for name in threads), threads
    signed = decided[f"{ids[0]}:{result.lead_trade_id}"]["signed_tx"]
    assert signed["submitted"] is False and signed["sender"] == keys[ids[0]].address
    assert "signed_tx" not in decided[f"{ids[1]}:{result.lead_trade_id}"]
    for after in decided.values():  # what was decided and what was filled, in the one row
        assert {"side", "decided_amount", "worst_price", "amount", "price", "tx_hash"} <= set(after)

    # the same copy, signed again, decodes as the Hyperion swap with min-out from slippage
    again = signer_mod.CopySigner(keys)
    try:
        (tx,) = await again.sign(
            pair, [signer_mod.CopyToSign(ids[0], Side.BUY, D("10"), D("8.46"), D("1"))]
        )
    finally:
        again.close()
    assert tx is not None
    decoded = decode_signed(tx.bcs)
    assert decoded.verify()
    call = decoded.transaction.payload.value
    assert call.function == contracts.HYPERION_EXACT_INPUT
    amount_in = int.from_bytes(call.args[1], "little")
    min_out = int.from_bytes(call.args[2], "little")
    assert amount_in == 84_600_000  # 84.6 USDC in 6-decimal base units
    assert min_out == 990_000_000  # 10 APT (8 decimals) less the 1% slippage bound


def test_the_engine_survives_its_first_ticks_in_real_time(fresh_sqlite_url: str) -> None:
    """At --speed 1 the first ticks come before the simulator's opening books: an empty book's
    top must be published as such, not kill the engine (it did: None in a cache hash)."""
    result = run_cli(fresh_sqlite_url, "engine", "--speed", "1", "--duration", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "engine.stopped" in result.stderr + result.stdout

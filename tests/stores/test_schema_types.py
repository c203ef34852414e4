"""The portable column types keep money exact and timestamps aware on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine
from oneclick_tui.stores.models import AuditLog, TradingPair, User
from oneclick_tui.stores.types import DecimalType

PAIRS = TradingPair.__table__


@pytest.fixture
async def engine(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate.upgrade(fresh_db_url)
    engine = make_engine(fresh_db_url)
    yield engine
    await engine.dispose()


async def _pair(engine: AsyncEngine, **values: object) -> dict[str, object]:
    row = {
        "base_asset": "APT",
        "quote_asset": "USDC",
        "dex_protocol": "sim",
        "min_trade_size": Decimal("0.1"),
        "tick_size": Decimal("0.0001"),
        "fee_rate": Decimal("0.003"),
        "is_active": True,
    } | values
    async with engine.begin() as conn:
        key = (await conn.execute(insert(PAIRS).values(row))).inserted_primary_key[0]
        got = (await conn.execute(select(PAIRS).where(PAIRS.c.id == key))).mappings().one()
    return dict(got)


async def test_decimals_round_trip_exactly(engine: AsyncEngine) -> None:
    huge = Decimal("12345678901234567890.123456789012345678")  # all 38 digits
    got = await _pair(engine, min_trade_size=huge, tick_size=Decimal("0.000000000000000001"))
    assert isinstance(got["min_trade_size"], Decimal)
    assert got["min_trade_size"] == huge
    assert got["tick_size"] == Decimal("1E-18")
    assert got["fee_rate"] == Decimal("0.003")


async def test_sqlite_stores_normalised_exact_text(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("storage format is SQLite-specific")
    await _pair(engine, min_trade_size=Decimal("1.5"), tick_size=Decimal("1.50"))
    async with engine.connect() as conn:
        raw = (
            await conn.execute(text("SELECT min_trade_size, tick_size FROM trading_pairs"))
        ).one()
        kind = (await conn.execute(text("SELECT typeof(min_trade_size) FROM trading_pairs"))).one()
    assert raw[0] == raw[1] == "1.500000000000000000"
    assert kind[0] == "text"


async def test_float_and_overflow_are_refused(engine: AsyncEngine) -> None:
    with pytest.raises(StatementError, match="float"):
        await _pair(engine, min_trade_size=0.1)
    with pytest.raises(StatementError, match="does not fit"):
        await _pair(engine, min_trade_size=Decimal("1E+21"))


async def test_timestamps_are_aware_utc(engine: AsyncEngine) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=plus_two)
    users = User.__table__
    async with engine.begin() as conn:
        await conn.execute(
            insert(users).values(status="active", verification_level=0, created_at=local)
        )
        got = (await conn.execute(select(users.c.created_at))).scalar_one()
    assert got == local
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got.hour == 10


async def test_naive_timestamps_are_refused(engine: AsyncEngine) -> None:
    users = User.__table__
    with pytest.raises(StatementError, match="naive"):
        async with engine.begin() as conn:
            await conn.execute(
                insert(users).values(
                    status="active", verification_level=0, created_at=datetime(2026, 1, 1)
                )
            )


async def test_json_round_trips(engine: AsyncEngine) -> None:
    audit = AuditLog.__table__
    doc = {"amount": "1.25", "assets": ["APT", "USDC"], "nested": {"ok": True}}
    async with engine.begin() as conn:
        await conn.execute(
            insert(audit).values(
                occurred_at=datetime.now(UTC),
                actor="system",
                action="test",
                entity_type="x",
                after=doc,
            )
        )
        got = (await conn.execute(select(audit.c.after, audit.c.before))).one()
    assert got == (doc, None)


def test_decimal_normalise_rules() -> None:
    amount = DecimalType(38, 18)
    assert amount.normalise("-0") == Decimal(0)
    assert str(amount.normalise(Decimal("-0.0"))) == "0E-18"
    assert amount.normalise(Decimal("0.0000000000000000005")) == Decimal("1E-18")
    with pytest.raises(ValueError, match="finite"):
        amount.normalise(Decimal("NaN"))
    with pytest.raises(TypeError):
        amount.normalise(True)


async def test_decimal_comparisons_and_ordering_are_by_value(engine: AsyncEngine) -> None:
    """On SQLite the text "10.0…" sorts before "9.0…"; comparisons must not."""
    for base, size in (("A", "9"), ("B", "10"), ("C", "100.5"), ("D", "0.5")):
        await _pair(engine, base_asset=base, min_trade_size=Decimal(size))
    col = PAIRS.c.min_trade_size
    async with engine.connect() as conn:
        over_nine = (await conn.execute(select(PAIRS.c.base_asset).where(col > Decimal(9)))).all()
        ordered = (await conn.execute(select(PAIRS.c.base_asset).order_by(col.desc()))).all()
        between = (
            await conn.execute(select(PAIRS.c.base_asset).where(col.between(Decimal(-1), 10)))
        ).all()
        reverse = (await conn.execute(select(PAIRS.c.base_asset).where(Decimal(9) < col))).all()
        equal = (
            await conn.execute(select(PAIRS.c.base_asset).where(col == Decimal("10.00")))
        ).all()
    assert sorted(r[0] for r in over_nine) == ["B", "C"]
    assert [r[0] for r in ordered] == ["C", "B", "A", "D"]
    assert sorted(r[0] for r in between) == ["A", "B", "D"]
    assert sorted(r[0] for r in reverse) == ["B", "C"]
    assert [r[0] for r in equal] == ["B"]

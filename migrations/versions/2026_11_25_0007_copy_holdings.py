"""Running totals of what each follower built by copying each trader, per pair.

Why: when a lead trader sells, each follower sells the same fraction of the position he
built by copying that lead. The engine summed every completed copy of the trader on the pair
for every live follower on every sell: a read that grows with history (after a month of a
10,000-follower lead, millions of rows per sell), and that forgot what a detached partition
held. ``copy_holdings`` keeps the sum instead, updated in the transaction that completes a
copy (the copy store does it, in Python: SQLite has no exact decimal arithmetic).

Backfilled here from the copy history, summed exactly in Python on both backends.
PostgreSQL: row-level security like ``positions`` (the console sees its own user's rows,
the engine all, analytics reads), and ``oneclick_apply_grants()`` is wrapped so `oneclick db
roles` re-applies this revision's grants.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from oneclick_tui.stores.types import Amount, IdType, UTCDateTime

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRADES = sa.table(
    "trades",
    sa.column("user_id", IdType),
    sa.column("trader_id", IdType),
    sa.column("pair_id", IdType),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("trade_type", sa.String),
    sa.column("amount", Amount()),
)
_HOLDINGS = sa.table(
    "copy_holdings",
    sa.column("follower_id", IdType),
    sa.column("trader_id", IdType),
    sa.column("pair_id", IdType),
    sa.column("base_built", Amount()),
    sa.column("updated_at", UTCDateTime()),
)

_POLICIES = """
DO $do$ BEGIN
EXECUTE format('CREATE POLICY copy_holdings_app_own ON copy_holdings TO %I '
               'USING (follower_id = oneclick_app_user_id()) '
               'WITH CHECK (follower_id = oneclick_app_user_id())', oneclick_role('app'));
EXECUTE format('CREATE POLICY copy_holdings_engine_all ON copy_holdings TO %I '
               'USING (true) WITH CHECK (true)', oneclick_role('engine'));
EXECUTE format('CREATE POLICY copy_holdings_analytics_read ON copy_holdings FOR SELECT '
               'TO %I USING (true)', oneclick_role('analytics'));
END $do$
"""

# The engine and analytics get every table from 0003's grants; the console only its own rows
# (it may run the engine in-process for its user).
_GRANTS = """
CREATE OR REPLACE FUNCTION oneclick_apply_holdings_grants() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON copy_holdings TO %s',
                   quote_ident(oneclick_role('app')));
END
$fn$
"""

# A later revision that redefines oneclick_apply_grants() must keep calling this one's.
_WRAP = """
CREATE OR REPLACE FUNCTION oneclick_apply_grants() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM oneclick_apply_grants_0006();
    PERFORM oneclick_apply_holdings_grants();
END
$fn$
"""


def _backfill() -> None:
    """Sum every completed copy per (follower, trader, pair), exactly, and store it."""
    t = _TRADES.c
    rows = op.get_bind().execute(
        sa.select(t.user_id, t.trader_id, t.pair_id, t.trade_type, t.amount).where(
            t.kind == "copy",
            t.status == "completed",
            t.user_id.is_not(None),
            t.trader_id.is_not(None),
            t.pair_id.is_not(None),
        )
    )
    built: dict[tuple[int, int, int], Decimal] = {}
    for user_id, trader_id, pair_id, side, amount in rows:
        key = (user_id, trader_id, pair_id)
        built[key] = built.get(key, Decimal(0)) + (amount if side == "buy" else -amount)
    if built:
        now = datetime.now(UTC)
        rows = [
            {"follower_id": f, "trader_id": tr, "pair_id": p, "base_built": v, "updated_at": now}
            for (f, tr, p), v in built.items()
        ]
        op.bulk_insert(_HOLDINGS, rows)


def upgrade() -> None:
    op.create_table(
        "copy_holdings",
        sa.Column("follower_id", IdType, nullable=False),
        sa.Column("trader_id", IdType, nullable=False),
        sa.Column("pair_id", IdType, nullable=False),
        sa.Column("base_built", Amount(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["follower_id"], ["users.id"],
            name=op.f("fk_copy_holdings_follower_id_users"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trader_id"], ["traders.id"],
            name=op.f("fk_copy_holdings_trader_id_traders"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["trading_pairs.id"],
            name=op.f("fk_copy_holdings_pair_id_trading_pairs"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "follower_id", "trader_id", "pair_id", name=op.f("pk_copy_holdings")
        ),
    )  # fmt: skip
    op.create_index(
        op.f("ix_copy_holdings_trader_id"), "copy_holdings", ["trader_id"], unique=False
    )
    _backfill()
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    run("ALTER TABLE copy_holdings ENABLE ROW LEVEL SECURITY")
    run(_POLICIES)
    run(_GRANTS)
    run("ALTER FUNCTION oneclick_apply_grants() RENAME TO oneclick_apply_grants_0006")
    run(_WRAP)
    run("SELECT oneclick_apply_grants()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        run = bind.exec_driver_sql
        run("DROP FUNCTION IF EXISTS oneclick_apply_grants()")
        run("ALTER FUNCTION oneclick_apply_grants_0006() RENAME TO oneclick_apply_grants")
        run("DROP FUNCTION IF EXISTS oneclick_apply_holdings_grants()")
    op.drop_index(op.f("ix_copy_holdings_trader_id"), table_name="copy_holdings")
    op.drop_table("copy_holdings")

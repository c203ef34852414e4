"""Analytics: leaderboard tie ranks and rank changes; PostgreSQL daily-activity view.

`ix_trades_lead_book` (partial, covering on PostgreSQL) gives the analytics each lead
trader's trades in book order without sorting them.

`leaderboards.rank` stays UNIQUE per (period, metric) and is the row's position (ties broken
by trader id, so the constraint holds); the new `competition_rank` is the shared rank of a
tie ("1224") that users see, and `previous_rank` the competition rank in the ranking before
(NULL = new entry), so the UI can show movement.

On PostgreSQL, `trader_daily_activity` aggregates lead trades per trader, pair and UTC day
with window functions (net quantity, net cash, closed round trips and wins). It is the
leaderboard source the analytics recompute reads; it is refreshed CONCURRENTLY, which needs
the unique index. SQLite has no materialized views: the service computes the same in Python.

Self-contained on purpose: the view's SQL is spelled out here; the service keeps its own copy
and a test checks the two agree.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRADER_DAILY_ACTIVITY = """
CREATE MATERIALIZED VIEW trader_daily_activity AS
WITH t AS (
    SELECT trader_id, pair_id, executed_at, id,
           CASE WHEN trade_type = 'buy' THEN amount ELSE -amount END AS dq,
           CASE WHEN trade_type = 'buy' THEN -(amount * price) ELSE amount * price END
               - fees_paid AS dc,
           COALESCE(total_value, amount * price) AS notional
    FROM trades
    WHERE kind = 'lead' AND status = 'completed' AND executed_at IS NOT NULL
),
p AS (
    SELECT t.*, SUM(dq) OVER w AS pos_after
    FROM t
    WINDOW w AS (PARTITION BY trader_id, pair_id ORDER BY executed_at, id
                 ROWS UNBOUNDED PRECEDING)
),
r AS (
    SELECT p.*, SUM(CASE WHEN pos_after - dq = 0 THEN 1 ELSE 0 END) OVER w AS trip
    FROM p
    WINDOW w AS (PARTITION BY trader_id, pair_id ORDER BY executed_at, id
                 ROWS UNBOUNDED PRECEDING)
),
c AS (
    SELECT r.*, SUM(dc) OVER w AS trip_cash
    FROM r
    WINDOW w AS (PARTITION BY trader_id, pair_id, trip ORDER BY executed_at, id
                 ROWS UNBOUNDED PRECEDING)
)
SELECT trader_id, pair_id, (executed_at AT TIME ZONE 'UTC')::date AS day,
       COUNT(*)::bigint AS n_trades,
       SUM(notional) AS volume,
       SUM(dq) AS qty_delta,
       SUM(dc) AS cash_delta,
       SUM(CASE WHEN pos_after = 0 AND dq < 0 AND trip > 0 THEN 1 ELSE 0 END)::bigint
           AS trips_closed,
       SUM(CASE WHEN pos_after = 0 AND dq < 0 AND trip > 0 AND trip_cash > 0 THEN 1 ELSE 0 END)
           ::bigint AS trips_won
FROM c
GROUP BY trader_id, pair_id, (executed_at AT TIME ZONE 'UTC')::date
WITH DATA
"""


def upgrade() -> None:
    op.add_column(
        "leaderboards",
        sa.Column("competition_rank", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )
    op.add_column("leaderboards", sa.Column("previous_rank", sa.Integer(), nullable=True))
    op.create_index(
        "ix_trades_lead_book",
        "trades",
        ["trader_id", "pair_id", "executed_at", "id"],
        unique=False,
        postgresql_include=["trade_type", "amount", "price", "fees_paid", "total_value"],
        postgresql_where=sa.text("kind = 'lead' AND status = 'completed'"),
        sqlite_where=sa.text("kind = 'lead' AND status = 'completed'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TRADER_DAILY_ACTIVITY)
        op.execute(
            "CREATE UNIQUE INDEX uq_trader_daily_activity "
            "ON trader_daily_activity (trader_id, pair_id, day)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP MATERIALIZED VIEW IF EXISTS trader_daily_activity")
    op.drop_index("ix_trades_lead_book", table_name="trades")
    with op.batch_alter_table("leaderboards") as batch:
        batch.drop_column("previous_rank")
        batch.drop_column("competition_rank")

"""Lead trades by chain version: the index a sell's "lead position before" read needs.

Why: when a lead trader sells, each follower sells the same fraction of what he built, and
that fraction needs the lead's position before the sell: the sum of his recorded trades on
the pair below the sell's chain version. Without an index on the version that read walked
every lead trade of the trader on the pair, on every sell, growing for as long as the engine
runs. The copy engine now keeps the sum per (trader, pair) and reads only the trades since
the version it last summed to (`CopyEngine.leader_totals`); this index makes that read a
range probe. Partial (leads only), like `ix_trades_lead_book`; on the partitioned PostgreSQL
`trades` (0005) it is created on every partition and named as 0005 names partition indexes.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_trades_lead_version",
        "trades",
        ["trader_id", "pair_id", "chain_version"],
        unique=False,
        postgresql_include=["trade_type", "amount"],
        postgresql_where=sa.text("kind = 'lead'"),
        sqlite_where=sa.text("kind = 'lead'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # partitions' copies named `<parent index>__<partition>`, as 0005 names them all
        op.execute("SELECT oneclick_name_partition_keys('trades')")


def downgrade() -> None:
    op.drop_index("ix_trades_lead_version", table_name="trades")

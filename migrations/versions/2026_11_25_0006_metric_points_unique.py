"""One metric point per series and timestamp, as InfluxDB keeps it.

Why: a retried write (a flush that timed out after the database had it) inserted the same
point twice, and window aggregates (sums, counts) on the relational backend counted it
twice, while InfluxDB overwrites the point, merging its fields. Existing duplicates are merged
the same way (older rows first, the newest value of a field wins, the newest row kept), then
the series index becomes unique and the writer upserts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from oneclick_tui.stores.types import JsonType, UTCDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POINTS = sa.table(
    "metric_points",
    sa.column("id", sa.BigInteger),
    sa.column("measurement", sa.String),
    sa.column("series_key", sa.Text),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("fields", JsonType),
)
_KEY = ("measurement", "series_key", "recorded_at")


def _merge_duplicates() -> None:
    conn = op.get_bind()
    p = _POINTS.c
    groups = conn.execute(
        sa.select(p.measurement, p.series_key, p.recorded_at)
        .group_by(p.measurement, p.series_key, p.recorded_at)
        .having(sa.func.count() > 1)
    ).all()
    for measurement, key, at in groups:
        same = (p.measurement == measurement) & (p.series_key == key) & (p.recorded_at == at)
        rows = conn.execute(sa.select(p.id, p.fields).where(same).order_by(p.id)).all()
        merged: dict[str, str] = {}
        for _, fields in rows:
            merged.update(fields)
        keep = rows[-1][0]
        conn.execute(sa.update(_POINTS).where(p.id == keep).values(fields=merged))
        conn.execute(sa.delete(_POINTS).where(same & (p.id != keep)))


def upgrade() -> None:
    _merge_duplicates()
    op.drop_index("ix_metric_points_series_time", table_name="metric_points")
    op.create_index(
        "uq_metric_points_measurement_series_key_recorded_at", "metric_points", list(_KEY),
        unique=True,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_metric_points_measurement_series_key_recorded_at", table_name="metric_points")
    op.create_index("ix_metric_points_series_time", "metric_points", list(_KEY))

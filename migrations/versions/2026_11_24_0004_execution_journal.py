"""Execution journal: every signed transaction is durably recorded before it is submitted.

Why: a copy executed on chain must land exactly once. The engine commits the signed bytes
(sender, sequence number, expiry, hash, BCS — never the key) here BEFORE handing them to a
fullnode, so after a crash `recover()` can look the hash up on chain, resubmit the very same
bytes, or declare the copy failed once the transaction has expired — and never signs a second
transaction for a copy while the first one could still land.

Status: ``signed`` (journaled; may be in flight — the outcome is not known yet), then
``committed`` (landed, VM success), ``aborted`` (landed, VM failure: the sequence number is
consumed), ``refused`` (the node refused it: it never lands) or ``expired`` (past its
expiration without landing: it can never land).

No foreign key to ``trades``: on PostgreSQL ``trades`` is partitioned by ``created_at`` and
its primary key becomes ``(id, created_at)``, so a key on ``trade_id`` alone cannot reference
it; the engine writes both rows in one transaction, which is what keeps them consistent.

On PostgreSQL the table belongs to the copy engine alone (no app/analytics/auditor access):
the engine may insert and update only the outcome columns; a trigger refuses any change to
what was signed and any DELETE, whoever the caller is (a journal that can be rewritten is
not one). SQLite gets the same two refusals as triggers. ``oneclick_apply_grants()`` is wrapped so `oneclick db roles` re-applies this.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")

# Columns that describe the signed transaction: written once, never changed.
IMMUTABLE = (
    "id",
    "trade_id",
    "chain_id",
    "sender",
    "sequence_number",
    "expiration_timestamp_secs",
    "tx_hash",
    "signed_bcs",
    "created_at",
)
# What the engine learns afterwards.
OUTCOME = ("status", "vm_status", "version", "reason", "updated_at")
STATUSES = ("signed", "committed", "aborted", "refused", "expired")

_GUARD = f"""
CREATE OR REPLACE FUNCTION oneclick_execution_journal_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'execution_journal is append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF ({", ".join(f"NEW.{c}" for c in IMMUTABLE)})
       IS DISTINCT FROM ({", ".join(f"OLD.{c}" for c in IMMUTABLE)}) THEN
        RAISE EXCEPTION 'execution_journal: a signed transaction cannot be rewritten'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$fn$
"""

# SQLite has no roles, but the same two refusals are cheap triggers there too.
_SQLITE_GUARDS = [
    """
    CREATE TRIGGER execution_journal_no_delete BEFORE DELETE ON execution_journal
    BEGIN SELECT RAISE(ABORT, 'execution_journal is append-only: DELETE refused'); END
    """,
    f"""
    CREATE TRIGGER execution_journal_immutable
    BEFORE UPDATE OF {", ".join(IMMUTABLE)} ON execution_journal
    WHEN {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in IMMUTABLE)}
    BEGIN SELECT RAISE(ABORT, 'execution_journal: a signed transaction cannot be rewritten'); END
    """,
]

_JOURNAL_GRANTS = f"""
CREATE OR REPLACE FUNCTION oneclick_apply_journal_grants() RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    engine text := quote_ident(oneclick_role('engine'));
BEGIN
    EXECUTE format('REVOKE ALL ON execution_journal FROM %s, %s, %s, %s',
                   quote_ident(oneclick_role('app')), engine,
                   quote_ident(oneclick_role('analytics')),
                   quote_ident(oneclick_role('auditor')));
    EXECUTE format('GRANT SELECT, INSERT ON execution_journal TO %s', engine);
    EXECUTE format('GRANT UPDATE ({", ".join(OUTCOME)}) ON execution_journal TO %s', engine);
END
$fn$
"""

# 0003's grants give the engine every table and analytics SELECT on every table; wrap it so
# re-running it (`oneclick db roles`) also narrows the journal again. A later revision that
# redefines oneclick_apply_grants() must keep calling oneclick_apply_journal_grants().
_WRAP = """
CREATE OR REPLACE FUNCTION oneclick_apply_grants() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM oneclick_apply_grants_0003();
    PERFORM oneclick_apply_journal_grants();
END
$fn$
"""


def upgrade() -> None:
    op.create_table(
        "execution_journal",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        # The copy (trades.id) this transaction executes; see the module docstring: no FK.
        sa.Column("trade_id", _ID, nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=66), nullable=False),
        sa.Column("sequence_number", sa.BigInteger(), nullable=False),
        sa.Column("expiration_timestamp_secs", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("signed_bcs", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("vm_status", sa.Text(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")",
            name=op.f("ck_execution_journal_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_journal")),
        # One signed transaction per copy, ever: a second one could land beside the first.
        sa.UniqueConstraint("trade_id", name=op.f("uq_execution_journal_trade_id")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_execution_journal_tx_hash")),
    )
    # Where a sender's sequence numbers stand (restart: never reuse one that may still land).
    op.create_index(
        "ix_execution_journal_sender_seq",
        "execution_journal",
        ["sender", "sequence_number"],
        unique=False,
    )
    # Recovery scans the entries whose outcome is not known yet.
    op.create_index(
        "ix_execution_journal_open",
        "execution_journal",
        ["trade_id"],
        unique=False,
        postgresql_where=sa.text("status = 'signed'"),
        sqlite_where=sa.text("status = 'signed'"),
    )
    bind = op.get_bind()
    run = bind.exec_driver_sql
    if bind.dialect.name != "postgresql":
        for sql in _SQLITE_GUARDS:
            run(sql)
        return
    run(_GUARD)
    run(
        "CREATE TRIGGER execution_journal_guard BEFORE UPDATE OR DELETE ON execution_journal "
        "FOR EACH ROW EXECUTE FUNCTION oneclick_execution_journal_guard()"
    )
    run(_JOURNAL_GRANTS)
    run("ALTER FUNCTION oneclick_apply_grants() RENAME TO oneclick_apply_grants_0003")
    run(_WRAP)
    run("SELECT oneclick_apply_grants()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        run = bind.exec_driver_sql
        run("DROP FUNCTION IF EXISTS oneclick_apply_grants()")
        run("ALTER FUNCTION oneclick_apply_grants_0003() RENAME TO oneclick_apply_grants")
        run("DROP FUNCTION IF EXISTS oneclick_apply_journal_grants()")
        run("DROP TRIGGER IF EXISTS execution_journal_guard ON execution_journal")
    op.drop_index("ix_execution_journal_open", table_name="execution_journal")
    op.drop_index("ix_execution_journal_sender_seq", table_name="execution_journal")
    op.drop_table("execution_journal")
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP FUNCTION IF EXISTS oneclick_execution_journal_guard()")

"""Set-based trade checks (PostgreSQL): one transaction-hash check per statement, not per row.

Why: a copy fan-out writes 10,000 copy rows in one ``INSERT ... SELECT FROM unnest(...)``;
0005's two row-level BEFORE INSERT triggers ran once per copy. Measured on a 10,000-copy
insert (PostgreSQL 15, `EXPLAIN ANALYZE`, pg_stat_user_functions): ``trades_tx_once``
~180 ms (an advisory lock per row, 10,000 lock-table entries in one transaction, and a
look-up of the hash in every partition), ``trades_copy_time`` ~70-90 ms (a plpgsql call and
an index probe per row), of ~1,050 ms for the statement. What changes:

* ``trades_tx_once`` (one transaction hash, whatever its time) becomes a statement-level
  AFTER INSERT trigger over the transition table. It locks, then checks every inserted hash
  in one query. Locks: a statement with a few hashes (a lead trade) takes a SHARED lock on
  ``oneclick.trades.tx_hash.bulk`` and the per-hash lock 0005 took, in sorted order; a
  statement with many (a fan-out) takes that bulk lock EXCLUSIVE instead of one lock per
  hash. Either way two writers of one hash serialise: the second one's check runs after the
  first has committed (the check is its own statement, so in READ COMMITTED it sees that
  commit) and fails with 0005's error (unique_violation, ``uq_trades_tx_hash``, same
  message and detail). Rows the same statement inserts are seen by the check too, as 0005's
  row trigger saw the rows before it. The row is refused at the end of the statement instead
  of before it is written; the statement fails either way.
* ``trades_copy_time`` keeps UPDATE exactly as 0005 (same function, same WHEN). On INSERT
  a new row trigger ``trades_copy_time_insert`` does 0005's work (the lead's time, or the
  foreign-key error), then remembers the (lead, time) pair it proved for the rest of the
  statement in the transaction-local setting ``oneclick.trades_copy_lead`` (keyed with
  ``statement_timestamp()``). Its WHEN clause skips the trigger for a row carrying exactly
  that pair: the 9,999 other copies of a fan-out. A copy with another time never matches, so
  it is still given its lead's time before the unique key is checked (a retried copy with a
  later time in the month still conflicts, as tests/security/test_partitions.py expects).
  Nothing is trusted from the setting: ``trades_leads_held`` (0005, unchanged) checks once
  per statement and distinct (lead, time) that the lead row exists with that time and locks
  it FOR KEY SHARE, so a forged or stale setting can at worst turn a correction into 0005's
  foreign-key error, never store a copy away from its lead's time. (Stale means: within one
  client statement, e.g. a function that deletes a lead's copies, re-times the lead and then
  inserts a copy with the old time; 0005 would have moved that copy, 0008 refuses it.)
* Error order in a statement with several faults: a duplicate hash is now reported after
  the lead checks (AFTER triggers run by name), not before the row is written.

Audit triggers and the audit chain are not touched. SQLite is not touched (its triggers of
0005 stay). ``downgrade()`` restores 0005's two triggers and drops this revision's functions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Up to this many distinct hashes a statement locks each one (with the bulk lock shared);
# above it, the bulk lock alone, exclusive (one lock-table entry instead of thousands).
PER_HASH_LOCKS_UP_TO = 16

_FUNCTIONS = [
    # The (lead, time) pair a copy-time check proved, valid for the current statement only.
    # SQL and STABLE so it is inlined into the trigger's WHEN clause (no call per row).
    """
    CREATE OR REPLACE FUNCTION oneclick_trades_copy_key(lead_id bigint, at timestamptz)
    RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
        SELECT lead_id::text || '@' || extract(epoch FROM at)::text || '@'
               || extract(epoch FROM statement_timestamp())::text
    $fn$
    """,
    # 0005's INSERT branch of oneclick_trades_copy_time(), unchanged, then remembers the pair.
    """
    CREATE OR REPLACE FUNCTION oneclick_trades_copy_time_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
        lead_at timestamptz;
    BEGIN
        PERFORM 1 FROM public.trades t
        WHERE t.id = NEW.copy_of_trade_id AND t.created_at = NEW.created_at;
        IF NOT FOUND THEN
            SELECT t.created_at INTO lead_at FROM public.trades t
            WHERE t.id = NEW.copy_of_trade_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'insert or update on table "trades" violates foreign key '
                                'constraint "fk_trades_copy_of_trade_id_trades"'
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Key (copy_of_trade_id)=(%s) is not present in table '
                                          '"trades".', NEW.copy_of_trade_id),
                          CONSTRAINT = 'fk_trades_copy_of_trade_id_trades', TABLE = 'trades';
            END IF;
            NEW.created_at := lead_at;
        END IF;
        PERFORM set_config('oneclick.trades_copy_lead',
                           oneclick_trades_copy_key(NEW.copy_of_trade_id, NEW.created_at), true);
        RETURN NEW;
    END
    $fn$
    """,
    # One transaction hash is one trade, whatever its time: for the whole statement at once.
    f"""
    CREATE OR REPLACE FUNCTION oneclick_trades_tx_once_statement() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
        hashes text[];
        h text;
        dup text;
    BEGIN
        SELECT array_agg(DISTINCT n.tx_hash) INTO hashes
        FROM new_rows n WHERE n.tx_hash IS NOT NULL;
        IF hashes IS NULL THEN
            RETURN NULL;
        END IF;
        IF cardinality(hashes) <= {PER_HASH_LOCKS_UP_TO} THEN
            PERFORM pg_advisory_xact_lock_shared(hashtext('oneclick.trades.tx_hash.bulk'));
            FOR h IN SELECT x FROM unnest(hashes) x ORDER BY hashtext(x), x LOOP
                PERFORM pg_advisory_xact_lock(hashtext('oneclick.trades.tx_hash'), hashtext(h));
            END LOOP;
        ELSE
            PERFORM pg_advisory_xact_lock(hashtext('oneclick.trades.tx_hash.bulk'));
        END IF;
        -- A statement of its own, after the locks: its snapshot sees what a writer of the
        -- same hash that held them committed (READ COMMITTED), and this statement's rows.
        SELECT n.tx_hash INTO dup FROM new_rows n
        WHERE n.tx_hash IS NOT NULL
          AND EXISTS (SELECT 1 FROM public.trades t
                      WHERE t.tx_hash = n.tx_hash AND t.created_at <> n.created_at)
        ORDER BY n.tx_hash LIMIT 1;
        IF dup IS NOT NULL THEN
            RAISE EXCEPTION 'duplicate key value violates unique constraint "uq_trades_tx_hash"'
                USING ERRCODE = 'unique_violation',
                      DETAIL = format('Key (tx_hash)=(%s) already exists.', dup),
                      CONSTRAINT = 'uq_trades_tx_hash', TABLE = 'trades';
        END IF;
        RETURN NULL;
    END
    $fn$
    """,
]

_FUNCTION_NAMES = [
    "oneclick_trades_tx_once_statement()",
    "oneclick_trades_copy_time_insert()",
    "oneclick_trades_copy_key(bigint, timestamptz)",
]

_TRIGGERS = [
    "CREATE TRIGGER trades_copy_time BEFORE UPDATE OF copy_of_trade_id, created_at "
    "ON trades FOR EACH ROW WHEN (NEW.copy_of_trade_id IS NOT NULL) "
    "EXECUTE FUNCTION oneclick_trades_copy_time()",
    "CREATE TRIGGER trades_copy_time_insert BEFORE INSERT ON trades FOR EACH ROW "
    "WHEN (NEW.copy_of_trade_id IS NOT NULL AND current_setting('oneclick.trades_copy_lead', "
    "true) IS DISTINCT FROM oneclick_trades_copy_key(NEW.copy_of_trade_id, NEW.created_at)) "
    "EXECUTE FUNCTION oneclick_trades_copy_time_insert()",
    "CREATE TRIGGER trades_tx_once AFTER INSERT ON trades "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_trades_tx_once_statement()",
]
_TRIGGER_NAMES = ("trades_copy_time", "trades_copy_time_insert", "trades_tx_once")

# 0005's triggers, exactly as 0005 created them (its functions are not touched here).
_TRIGGERS_0005 = [
    "CREATE TRIGGER trades_copy_time BEFORE INSERT OR UPDATE OF copy_of_trade_id, created_at "
    "ON trades FOR EACH ROW WHEN (NEW.copy_of_trade_id IS NOT NULL) "
    "EXECUTE FUNCTION oneclick_trades_copy_time()",
    "CREATE TRIGGER trades_tx_once BEFORE INSERT ON trades "
    "FOR EACH ROW WHEN (NEW.tx_hash IS NOT NULL) EXECUTE FUNCTION oneclick_trades_tx_once()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    run = op.get_bind().exec_driver_sql
    for sql in _FUNCTIONS:
        run(sql)
    run(
        "REVOKE EXECUTE ON FUNCTION oneclick_trades_copy_time_insert(), "
        "oneclick_trades_tx_once_statement() FROM PUBLIC"
    )
    for name in _TRIGGER_NAMES:
        run(f"DROP TRIGGER IF EXISTS {name} ON trades")
    for sql in _TRIGGERS:
        run(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    run = op.get_bind().exec_driver_sql
    for name in _TRIGGER_NAMES:
        run(f"DROP TRIGGER IF EXISTS {name} ON trades")
    for sql in _TRIGGERS_0005:
        run(sql)
    for signature in _FUNCTION_NAMES:
        run(f"DROP FUNCTION IF EXISTS {signature}")

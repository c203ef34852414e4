"""Monthly partitions for trades and market_data (PostgreSQL); statement-level trade audit.

Why partition: the two tables that grow without bound become one table per month, so old
months can be detached and archived whole (`oneclick db partitions detach`) instead of being
deleted row by row, and queries on recent data touch small indexes.

PostgreSQL requires every unique key of a partitioned table to contain the partition key:

* ``market_data`` is partitioned by ``bucket_at``: its unique key (pair, timeframe, bucket)
  already holds it; the primary key becomes ``(id, bucket_at)``.
* ``trades`` is partitioned by ``created_at``. A copy or skip row carries its **lead trade's**
  ``created_at`` (the copy engine writes it so; a trigger enforces it, and fixes it for
  writers that do not within the same month), so the exactly-once key
  ``(user_id, copy_of_trade_id, created_at)`` is exactly as strong as
  ``(user_id, copy_of_trade_id)``: a retried copy has the same lead, hence the same time,
  hence lands in the same partition and conflicts. (Partitioning by the copy's own time would
  not be safe: a retry after midnight on the 1st would be a second copy.) A copy therefore
  always lives in its lead's partition, and detaching a month takes leads and copies together.
* The self-reference ``copy_of_trade_id -> trades.id`` cannot be a foreign key any more (no
  unique key on ``id`` alone; and a foreign key into a partitioned table shows one constraint
  per partition). Triggers do its work: the copy's lead must exist (locked FOR KEY SHARE once
  per statement and lead, as a foreign key does per row) and a lead that has copies cannot be
  deleted or re-keyed.
* ``tx_hash`` becomes unique with ``created_at``; a lead's ``created_at`` is its chain time,
  and a trigger refuses an inserted hash already recorded at another time, so a replayed lead
  trade never becomes a second lead row. (Hashes set later by UPDATE, an executed copy's own
  transaction, are checked within the month only: they are unique by construction.)
* Partition indexes are named ``<parent index>__<partition>``: a duplicate is reported, and
  EXPLAIN shows a scan, with that name; the part before ``__`` is the model's name.

Partitions live in schema ``oneclick_partitions`` (``<table>_pYYYY_MM`` plus
``<table>_default``, which catches any row no month exists for, so nothing is ever lost).
``oneclick_ensure_partitions(months_ahead)`` (SECURITY DEFINER, callable by the app and engine
roles) creates the coming months and moves rows waiting in the default partition into their
month; the migration, ``oneclick db partitions ensure`` and every start of the engine or
console call it.

Audit: 0003 wrote one chained audit row per changed trade from a row-level trigger (one
INSERT, one chain lock and one head lookup per row). Trades now have statement-level AFTER
triggers with transition tables: one INSERT ... SELECT per statement writes the before/after
image of every row it changed, after taking the chain lock once; the per-row chain trigger on
``audit_log`` still computes each hash (so ``oneclick audit verify`` is unchanged) but re-enters
a lock the transaction already holds.

SQLite keeps plain tables with the same keys as the models (unique keys with ``created_at``,
no self foreign key) and the same rules as triggers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 00:30:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "oneclick_partitions"
MONTHS_AHEAD = 3
PARTITION_KEYS = {"trades": "created_at", "market_data": "bucket_at"}

# Keys of each table, partitioned (True) and plain (False). Everything else (checks, columns,
# defaults, indexes, other foreign keys, policies, triggers, dependent views) is carried over.
_KEYS: dict[tuple[str, bool], list[str]] = {
    ("trades", True): [
        "CONSTRAINT pk_trades PRIMARY KEY (id, created_at)",
        "CONSTRAINT uq_trades_user_id_copy_of_trade_id "
        "UNIQUE (user_id, copy_of_trade_id, created_at)",
        "CONSTRAINT uq_trades_tx_hash UNIQUE (tx_hash, created_at)",
    ],
    ("trades", False): [
        "CONSTRAINT pk_trades PRIMARY KEY (id)",
        "CONSTRAINT uq_trades_user_id_copy_of_trade_id UNIQUE (user_id, copy_of_trade_id)",
        "CONSTRAINT uq_trades_tx_hash UNIQUE (tx_hash)",
        "CONSTRAINT fk_trades_copy_of_trade_id_trades FOREIGN KEY (copy_of_trade_id) "
        "REFERENCES trades (id) ON DELETE RESTRICT",
    ],
    ("market_data", True): [
        "CONSTRAINT pk_market_data PRIMARY KEY (id, bucket_at)",
        "CONSTRAINT uq_market_data_pair_id_timeframe_bucket_at "
        "UNIQUE (pair_id, timeframe, bucket_at)",
    ],
    ("market_data", False): [
        "CONSTRAINT pk_market_data PRIMARY KEY (id)",
        "CONSTRAINT uq_market_data_pair_id_timeframe_bucket_at "
        "UNIQUE (pair_id, timeframe, bucket_at)",
    ],
}

# Triggers this revision manages on trades (re-created by name, never carried over).
_OWN_TRIGGERS = (
    "audit_trades",
    "audit_trades_insert",
    "audit_trades_update",
    "audit_trades_delete",
    "trades_copy_time",
    "trades_leads_held",
    "trades_tx_once",
    "trades_restrict_delete",
    "trades_restrict_update",
)

_FUNCTIONS = [
    # A partition's copy of a parent index or key is named `<parent index>__<month>` (e.g.
    # uq_trades_tx_hash__p2026_11, ix_trades_user_executed__default): PostgreSQL reports a
    # duplicate, and EXPLAIN shows a scan, with the partition's index name; this keeps the
    # parent's name recoverable from it (the part before "__").
    f"""
    CREATE OR REPLACE FUNCTION oneclick_name_partition_keys(tbl text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
        r record;
    BEGIN
        FOR r IN
            SELECT ci.relname AS old,
                   left(pi.relname, 50) || '__' || substr(c.relname, length(tbl) + 2) AS new
            FROM pg_inherits pt
            JOIN pg_class c ON c.oid = pt.inhrelid
            JOIN pg_index x ON x.indrelid = c.oid
            JOIN pg_class ci ON ci.oid = x.indexrelid
            JOIN pg_inherits ii ON ii.inhrelid = ci.oid
            JOIN pg_class pi ON pi.oid = ii.inhparent
            WHERE pt.inhparent = format('public.%I', tbl)::regclass
        LOOP
            IF r.old <> r.new THEN
                EXECUTE format('ALTER INDEX {SCHEMA}.%I RENAME TO %I', r.old, r.new);
            END IF;
        END LOOP;
    END
    $fn$
    """,
    # Create one month's partition; rows of that month waiting in DEFAULT move into it.
    f"""
    CREATE OR REPLACE FUNCTION oneclick_partition_for(tbl text, month timestamptz)
    RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
        col text;
        lo timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        hi timestamptz := (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month')
                          AT TIME ZONE 'UTC';
        part text := tbl || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYY_MM');
        dflt text := tbl || '_default';
        waiting boolean;
    BEGIN
        IF to_regclass(format('{SCHEMA}.%I', part)) IS NOT NULL THEN
            RETURN NULL;
        END IF;
        SELECT a.attname INTO col
        FROM pg_partitioned_table p
        JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = format('public.%I', tbl)::regclass;
        IF col IS NULL THEN
            RAISE EXCEPTION '% is not partitioned', tbl;
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM {SCHEMA}.%I WHERE %I >= $1 AND %I < $2)',
                       dflt, col, col) INTO waiting USING lo, hi;
        IF NOT waiting THEN
            EXECUTE format('CREATE TABLE {SCHEMA}.%I PARTITION OF public.%I '
                           'FOR VALUES FROM (%L) TO (%L)', part, tbl, lo, hi);
            PERFORM oneclick_name_partition_keys(tbl);
            RETURN part;
        END IF;
        -- Rows wait in DEFAULT: a new partition may not overlap them, so move them out first
        -- (into a plain table that is then attached: no trigger sees the move).
        EXECUTE format('ALTER TABLE public.%I DETACH PARTITION {SCHEMA}.%I', tbl, dflt);
        EXECUTE format('CREATE TABLE {SCHEMA}.%I (LIKE public.%I INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS)', part, tbl);
        EXECUTE format('WITH moved AS (DELETE FROM {SCHEMA}.%I WHERE %I >= $1 AND %I < $2 '
                       'RETURNING *) INSERT INTO {SCHEMA}.%I SELECT * FROM moved',
                       dflt, col, col, part) USING lo, hi;
        EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION {SCHEMA}.%I '
                       'FOR VALUES FROM (%L) TO (%L)', tbl, part, lo, hi);
        EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION {SCHEMA}.%I DEFAULT', tbl, dflt);
        PERFORM oneclick_name_partition_keys(tbl);
        RETURN part;
    END
    $fn$
    """,
    # Every partitioned table: this month and the next `months_ahead`, plus every month that
    # has rows waiting in DEFAULT. Returns the partitions it created.
    f"""
    CREATE OR REPLACE FUNCTION oneclick_ensure_partitions(
        months_ahead integer DEFAULT {MONTHS_AHEAD}, around timestamptz DEFAULT now()
    ) RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
        r record;
        m timestamptz;
        waiting timestamptz[];
        made text;
    BEGIN
        IF months_ahead NOT BETWEEN 0 AND 36 THEN
            RAISE EXCEPTION 'months_ahead must be between 0 and 36, got %', months_ahead;
        END IF;
        FOR r IN
            SELECT c.relname AS tbl, a.attname AS col
            FROM pg_partitioned_table p
            JOIN pg_class c ON c.oid = p.partrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            ORDER BY c.relname
        LOOP
            EXECUTE format('SELECT array_agg(DISTINCT date_trunc(''month'', %I, ''UTC'')) '
                           'FROM {SCHEMA}.%I', r.col, r.tbl || '_default') INTO waiting;
            FOR m IN
                SELECT DISTINCT x FROM unnest(
                    coalesce(waiting, '{{}}') || ARRAY(
                        SELECT date_trunc('month', around, 'UTC') + make_interval(months => i)
                        FROM generate_series(0, months_ahead) i)) x
                ORDER BY 1
            LOOP
                made := oneclick_partition_for(r.tbl, m);
                IF made IS NOT NULL THEN
                    RETURN NEXT made;
                END IF;
            END LOOP;
        END LOOP;
    END
    $fn$
    """,
    # A copy/skip row takes its lead trade's time (the partition key): the exactly-once key
    # (user_id, copy_of_trade_id, created_at) is then as strong as (user_id, copy_of_trade_id).
    # Row level, so it can set the time; the lead is locked once per statement below, not
    # here per row (that lock was most of the cost of a 10,000-copy fan-out). An UPDATE of the
    # reference is rare: it locks here. Generic plans: a custom plan per row of a partitioned
    # table costs more than the look-up.
    """
    CREATE OR REPLACE FUNCTION oneclick_trades_copy_time() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
        lead_at timestamptz;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM 1 FROM public.trades t
            WHERE t.id = NEW.copy_of_trade_id AND t.created_at = NEW.created_at;
            IF FOUND THEN
                RETURN NEW;  -- the writer already gave the lead's time (the copy engine does)
            END IF;
            SELECT t.created_at INTO lead_at FROM public.trades t
            WHERE t.id = NEW.copy_of_trade_id;
        ELSE
            SELECT t.created_at INTO lead_at FROM public.trades t
            WHERE t.id = NEW.copy_of_trade_id FOR KEY SHARE;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "trades" violates foreign key '
                            'constraint "fk_trades_copy_of_trade_id_trades"'
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (copy_of_trade_id)=(%s) is not present in table '
                                      '"trades".', NEW.copy_of_trade_id),
                      CONSTRAINT = 'fk_trades_copy_of_trade_id_trades', TABLE = 'trades';
        END IF;
        NEW.created_at := lead_at;
        RETURN NEW;
    END
    $fn$
    """,
    # What the dropped foreign key did, once per statement and lead: every lead referenced
    # exists with the copy's time, and is locked FOR KEY SHARE so it cannot be deleted
    # before this transaction ends (a delete that came first makes this fail instead).
    """
    CREATE OR REPLACE FUNCTION oneclick_trades_leads_held() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
        r record;
    BEGIN
        FOR r IN
            SELECT DISTINCT n.copy_of_trade_id AS id, n.created_at
            FROM new_rows n WHERE n.copy_of_trade_id IS NOT NULL
        LOOP
            PERFORM 1 FROM public.trades t
            WHERE t.id = r.id AND t.created_at = r.created_at FOR KEY SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'insert or update on table "trades" violates foreign key '
                                'constraint "fk_trades_copy_of_trade_id_trades"'
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('Key (copy_of_trade_id, created_at)=(%s, %s) is not '
                                          'present in table "trades".', r.id, r.created_at),
                          CONSTRAINT = 'fk_trades_copy_of_trade_id_trades', TABLE = 'trades';
            END IF;
        END LOOP;
        RETURN NULL;
    END
    $fn$
    """,
    # A transaction hash recorded at another time is a duplicate (uq_trades_tx_hash holds
    # created_at). The lock serialises two writers of one hash; the second then sees the first.
    """
    CREATE OR REPLACE FUNCTION oneclick_trades_tx_once() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan AS $fn$
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('oneclick.trades.tx_hash'), hashtext(NEW.tx_hash));
        IF EXISTS (SELECT 1 FROM public.trades t
                   WHERE t.tx_hash = NEW.tx_hash AND t.created_at <> NEW.created_at) THEN
            RAISE EXCEPTION 'duplicate key value violates unique constraint "uq_trades_tx_hash"'
                USING ERRCODE = 'unique_violation',
                      DETAIL = format('Key (tx_hash)=(%s) already exists.', NEW.tx_hash),
                      CONSTRAINT = 'uq_trades_tx_hash', TABLE = 'trades';
        END IF;
        RETURN NEW;
    END
    $fn$
    """,
    # ON DELETE RESTRICT of the dropped self foreign key, for the whole statement at once.
    """
    CREATE OR REPLACE FUNCTION oneclick_trades_restrict() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
        found_id bigint;
        r record;
    BEGIN
        -- One indexed look-up per removed or re-keyed row (pruned to its partition), never
        -- a join the planner could turn into a scan of every trade.
        IF TG_OP = 'DELETE' THEN
            FOR r IN SELECT o.id, o.created_at FROM old_rows o LOOP
                SELECT c.id INTO found_id FROM public.trades c
                WHERE c.copy_of_trade_id = r.id AND c.created_at = r.created_at AND c.id <> r.id
                LIMIT 1;
                EXIT WHEN found_id IS NOT NULL;
            END LOOP;
        ELSE
            FOR r IN
                SELECT o.id, o.created_at FROM old_rows o
                JOIN new_rows n ON n.id = o.id AND n.created_at <> o.created_at
            LOOP
                SELECT c.id INTO found_id FROM public.trades c
                WHERE c.copy_of_trade_id = r.id AND c.created_at = r.created_at AND c.id <> r.id
                LIMIT 1;
                EXIT WHEN found_id IS NOT NULL;
            END LOOP;
        END IF;
        IF found_id IS NOT NULL THEN
            RAISE EXCEPTION 'update or delete on table "trades" violates foreign key constraint '
                            '"fk_trades_copy_of_trade_id_trades" on table "trades"'
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (id)=(%s) is still referenced from table "trades".',
                                      r.id),
                      CONSTRAINT = 'fk_trades_copy_of_trade_id_trades', TABLE = 'trades';
        END IF;
        RETURN NULL;
    END
    $fn$
    """,
    # Before/after images of a whole statement in one INSERT ... SELECT, one chain lock.
    """
    CREATE OR REPLACE FUNCTION oneclick_audit_statement() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
        key text := TG_ARGV[0];
        who text := left(coalesce(
            nullif(current_setting('app.actor', true), ''),
            'user:' || nullif(current_setting('app.user_id', true), ''),
            session_user::text), 64);
    BEGIN
        -- Taken once here; the per-row chain trigger re-enters it without waiting.
        PERFORM pg_advisory_xact_lock(hashtext('oneclick.audit_log.chain'));
        IF TG_OP = 'INSERT' THEN
            INSERT INTO public.audit_log (occurred_at, actor, action, entity_type, entity_id,
                                          before, after)
            SELECT clock_timestamp(), who, 'row.insert', TG_TABLE_NAME, s.a ->> key, NULL, s.a
            FROM (SELECT to_jsonb(n) AS a FROM new_rows n) s
            ORDER BY (s.a ->> key)::numeric;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO public.audit_log (occurred_at, actor, action, entity_type, entity_id,
                                          before, after)
            SELECT clock_timestamp(), who, 'row.update', TG_TABLE_NAME, na.a ->> key, ob.b, na.a
            FROM (SELECT to_jsonb(o) AS b FROM old_rows o) ob
            JOIN (SELECT to_jsonb(n) AS a FROM new_rows n) na ON na.a -> key = ob.b -> key
            WHERE na.a <> ob.b
            ORDER BY (na.a ->> key)::numeric;
        ELSE
            INSERT INTO public.audit_log (occurred_at, actor, action, entity_type, entity_id,
                                          before, after)
            SELECT clock_timestamp(), who, 'row.delete', TG_TABLE_NAME, s.b ->> key, s.b, NULL
            FROM (SELECT to_jsonb(o) AS b FROM old_rows o) s
            ORDER BY (s.b ->> key)::numeric;
        END IF;
        RETURN NULL;
    END
    $fn$
    """,
    # Grants of this revision, re-applied with all others by oneclick_apply_grants().
    """
    CREATE OR REPLACE FUNCTION oneclick_apply_partition_grants() RETURNS void
    LANGUAGE plpgsql AS $fn$
    DECLARE
        app text := quote_ident(oneclick_role('app'));
        engine text := quote_ident(oneclick_role('engine'));
    BEGIN
        -- The console and the engine check the schema revision when they start.
        EXECUTE format('GRANT SELECT ON alembic_version TO %s, %s', app, engine);
        -- ... and create the coming months' partitions, with the owner's rights.
        REVOKE ALL ON FUNCTION oneclick_ensure_partitions(integer, timestamptz) FROM PUBLIC;
        EXECUTE format('GRANT EXECUTE ON FUNCTION oneclick_ensure_partitions(integer, '
                       'timestamptz) TO %s, %s', app, engine);
    END
    $fn$
    """,
]

_WRAP = """
CREATE OR REPLACE FUNCTION oneclick_apply_grants() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM oneclick_apply_grants_0004();
    PERFORM oneclick_apply_partition_grants();
END
$fn$
"""

_FUNCTION_NAMES = [
    "oneclick_apply_partition_grants()",
    "oneclick_audit_statement()",
    "oneclick_trades_restrict()",
    "oneclick_trades_tx_once()",
    "oneclick_trades_copy_time()",
    "oneclick_trades_leads_held()",
    "oneclick_ensure_partitions(integer, timestamptz)",
    "oneclick_partition_for(text, timestamptz)",
    "oneclick_name_partition_keys(text)",
]

_TRADES_TRIGGERS = [
    "CREATE TRIGGER trades_copy_time BEFORE INSERT OR UPDATE OF copy_of_trade_id, created_at "
    "ON trades FOR EACH ROW WHEN (NEW.copy_of_trade_id IS NOT NULL) "
    "EXECUTE FUNCTION oneclick_trades_copy_time()",
    "CREATE TRIGGER trades_leads_held AFTER INSERT ON trades "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_trades_leads_held()",
    "CREATE TRIGGER trades_tx_once BEFORE INSERT ON trades "
    "FOR EACH ROW WHEN (NEW.tx_hash IS NOT NULL) EXECUTE FUNCTION oneclick_trades_tx_once()",
    "CREATE TRIGGER trades_restrict_delete AFTER DELETE ON trades "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_trades_restrict()",
    "CREATE TRIGGER trades_restrict_update AFTER UPDATE ON trades "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_trades_restrict()",
    "CREATE TRIGGER audit_trades_insert AFTER INSERT ON trades "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_audit_statement('id')",
    "CREATE TRIGGER audit_trades_update AFTER UPDATE ON trades "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_audit_statement('id')",
    "CREATE TRIGGER audit_trades_delete AFTER DELETE ON trades "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION oneclick_audit_statement('id')",
]
_ROW_AUDIT_TRIGGER = (
    "CREATE TRIGGER audit_trades AFTER INSERT OR UPDATE OR DELETE ON trades "
    "FOR EACH ROW EXECUTE FUNCTION oneclick_audit_row_change('id')"
)

# SQLite: the same rules as triggers (no partitions; one writer at a time, so no locks).
_SQLITE_TRIGGERS = [
    # the lead of a copy exists (the dropped foreign key)
    """
    CREATE TRIGGER trades_copy_lead_exists BEFORE INSERT ON trades
    WHEN NEW.copy_of_trade_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM trades l WHERE l.id = NEW.copy_of_trade_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    # a copy takes its lead's time, so (user, lead, created_at) is as strong as (user, lead)
    """
    CREATE TRIGGER trades_copy_time AFTER INSERT ON trades
    WHEN NEW.copy_of_trade_id IS NOT NULL
     AND NEW.created_at IS NOT (SELECT l.created_at FROM trades l
                                WHERE l.id = NEW.copy_of_trade_id)
    BEGIN
        UPDATE trades SET created_at = (SELECT l.created_at FROM trades l
                                        WHERE l.id = NEW.copy_of_trade_id)
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER trades_copy_time_kept BEFORE UPDATE OF copy_of_trade_id, created_at ON trades
    WHEN NEW.copy_of_trade_id IS NOT NULL
     AND NEW.created_at IS NOT (SELECT l.created_at FROM trades l
                                WHERE l.id = NEW.copy_of_trade_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    # ON DELETE RESTRICT, and a referenced lead keeps its key
    """
    CREATE TRIGGER trades_restrict_delete BEFORE DELETE ON trades
    WHEN EXISTS (SELECT 1 FROM trades c WHERE c.copy_of_trade_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER trades_restrict_update BEFORE UPDATE OF id, created_at ON trades
    WHEN (NEW.id IS NOT OLD.id OR NEW.created_at IS NOT OLD.created_at)
     AND EXISTS (SELECT 1 FROM trades c WHERE c.copy_of_trade_id = OLD.id AND c.id <> OLD.id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    # one transaction hash, whatever its time
    """
    CREATE TRIGGER trades_tx_once BEFORE INSERT ON trades
    WHEN NEW.tx_hash IS NOT NULL
     AND EXISTS (SELECT 1 FROM trades t WHERE t.tx_hash = NEW.tx_hash
                 AND t.created_at IS NOT NEW.created_at)
    BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: trades.tx_hash, trades.created_at'); END
    """,
    """
    CREATE TRIGGER trades_tx_once_update BEFORE UPDATE OF tx_hash ON trades
    WHEN NEW.tx_hash IS NOT NULL
     AND EXISTS (SELECT 1 FROM trades t WHERE t.tx_hash = NEW.tx_hash AND t.id <> NEW.id)
    BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: trades.tx_hash, trades.created_at'); END
    """,
]
_SQLITE_TRIGGER_NAMES = [
    "trades_copy_lead_exists",
    "trades_copy_time",
    "trades_copy_time_kept",
    "trades_restrict_delete",
    "trades_restrict_update",
    "trades_tx_once",
    "trades_tx_once_update",
]

Run = Callable[..., Any]


def _rows(run: Run, sql: str, *params: Any) -> list[Any]:
    return list(run(sql, params if params else ()).fetchall())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rebuild(run: Run, table: str, partitioned: bool) -> None:
    """Re-create `table` partitioned (or plain again), with its rows and everything around it.

    Columns, checks, defaults and NOT NULLs come with LIKE; indexes, other foreign keys,
    row-level security, policies, triggers (except this revision's own) and dependent views
    are read from the catalog first and re-created as they were; the keys are `_KEYS`.
    """
    reg = f"public.{table}"
    incoming = _rows(
        run,
        "SELECT conname, conrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = $1::text::regclass AND conrelid <> confrelid",
        reg,
    )
    if incoming:
        raise RuntimeError(f"{table} is referenced by foreign keys {incoming}: cannot rebuild")
    owner = _rows(
        run, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::text::regclass", reg
    )[0][0]
    views = _rows(
        run,
        """
        SELECT DISTINCT v.oid, v.relname::text, v.relkind::text, pg_get_viewdef(v.oid), v.reloptions,
               pg_get_userbyid(v.relowner)
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::text::regclass
          AND v.oid <> $1::text::regclass
        """,
        reg,
    )
    view_indexes = {
        v[1]: [r[0] for r in _rows(run, "SELECT indexdef FROM pg_indexes WHERE schemaname = "
                                   "'public' AND tablename = $1", v[1])]
        for v in views
    }  # fmt: skip
    indexes = [
        r[0].replace(" ON ONLY ", " ON ")
        for r in _rows(
            run,
            """
            SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid = $1::text::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                              AND c.conrelid = i.indrelid)
            ORDER BY i.indexrelid
            """,
            reg,
        )
    ]
    foreign_keys = _rows(
        run,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
        "$1::text::regclass AND contype = 'f' AND conparentid = 0 AND confrelid <> conrelid "
        "ORDER BY conname",
        reg,
    )
    rls = _rows(
        run,
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::text::regclass",
        reg,
    )[0]
    policies = _rows(
        run,
        """
        SELECT p.polname, p.polpermissive,
               CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                             WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
               ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r))
                            END FROM unnest(p.polroles) r),
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy p WHERE p.polrelid = $1::text::regclass ORDER BY p.polname
        """,
        reg,
    )
    triggers = [
        r[1]
        for r in _rows(
            run,
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = $1::text::regclass "
            "AND NOT tgisinternal AND tgparentid = 0 ORDER BY tgname",
            reg,
        )
        if r[0] not in _OWN_TRIGGERS
    ]
    sequence = _rows(run, "SELECT pg_get_serial_sequence($1, 'id')", reg)[0][0]

    for v in reversed(views):
        kind = "MATERIALIZED VIEW" if v[2] == "m" else "VIEW"
        run(f"DROP {kind} {_q(v[1])}")
    old = f"{table}_old"
    key = PARTITION_KEYS[table]
    run(f"ALTER TABLE {reg} RENAME TO {_q(old)}")
    run(
        f"CREATE TABLE {reg} (LIKE {_q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMMENTS)"
        + (f" PARTITION BY RANGE ({_q(key)})" if partitioned else "")
    )
    if partitioned:
        # DEFAULT first (no row is ever refused), then a partition for every month that has
        # rows, and the coming months: the copy below then goes straight to its partitions.
        run(f"CREATE TABLE {SCHEMA}.{_q(table + '_default')} PARTITION OF {reg} DEFAULT")
        run(
            f"SELECT oneclick_partition_for($1, m) FROM (SELECT DISTINCT date_trunc('month', "
            f"{_q(key)}, 'UTC') AS m FROM {_q(old)}) s ORDER BY m",
            (table,),
        )
        run("SELECT oneclick_ensure_partitions($1)", (MONTHS_AHEAD,))
    run(f"INSERT INTO {reg} SELECT * FROM {_q(old)}")
    if sequence:
        run(f"ALTER SEQUENCE {sequence} OWNED BY {reg}.id")
    run(f"DROP TABLE {_q(old)}")
    for constraint in _KEYS[(table, partitioned)]:
        run(f"ALTER TABLE {reg} ADD {constraint}")
    for name, definition in foreign_keys:
        run(f"ALTER TABLE {reg} ADD CONSTRAINT {_q(name)} {definition}")
    for definition in indexes:
        run(definition)
    if partitioned:
        run("SELECT oneclick_name_partition_keys($1)", (table,))
    if rls[0]:
        run(f"ALTER TABLE {reg} ENABLE ROW LEVEL SECURITY")
    if rls[1]:
        run(f"ALTER TABLE {reg} FORCE ROW LEVEL SECURITY")
    for name, permissive, command, roles, using, check in policies:
        sql = (
            f"CREATE POLICY {_q(name)} ON {reg} AS {'PERMISSIVE' if permissive else 'RESTRICTIVE'}"
            f" FOR {command} TO {', '.join(roles)}"
        )
        if using is not None:
            sql += f" USING ({using})"
        if check is not None:
            sql += f" WITH CHECK ({check})"
        run(sql)
    for definition in triggers:
        run(definition)
    for v in views:
        options = f" WITH ({', '.join(v[4])})" if v[4] else ""
        if v[2] == "m":
            run(f"CREATE MATERIALIZED VIEW {_q(v[1])}{options} AS {v[3].rstrip(';')} WITH DATA")
        else:
            run(f"CREATE VIEW {_q(v[1])}{options} AS {v[3]}")
        for definition in view_indexes[v[1]]:
            run(definition)
    _give_to(run, owner, table, [v[1] for v in views])


def _give_to(run: Run, owner: str, table: str, views: list[str]) -> None:
    """Objects re-created by a superuser go back to the table's owner (roles set up)."""
    me = _rows(run, "SELECT current_user")[0][0]
    if owner == me:
        return
    run(f"ALTER TABLE public.{_q(table)} OWNER TO {_q(owner)}")
    for name in views:
        run(f"ALTER TABLE public.{_q(name)} OWNER TO {_q(owner)}")
    for (part,) in _rows(
        run,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
        SCHEMA,
    ):
        run(f"ALTER TABLE {SCHEMA}.{_q(part)} OWNER TO {_q(owner)}")
    run(f"ALTER SCHEMA {SCHEMA} OWNER TO {_q(owner)}")


def _upgrade_postgresql() -> None:
    run = op.get_bind().exec_driver_sql
    run(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for sql in _FUNCTIONS:
        run(sql)
    run(
        "REVOKE EXECUTE ON FUNCTION oneclick_trades_copy_time(), oneclick_trades_leads_held(), "
        "oneclick_trades_tx_once(), "
        "oneclick_trades_restrict(), oneclick_audit_statement(), "
        "oneclick_partition_for(text, timestamptz), oneclick_name_partition_keys(text) FROM PUBLIC"
    )
    for table in PARTITION_KEYS:
        _rebuild(run, table, partitioned=True)
    for sql in _TRADES_TRIGGERS:
        run(sql)
    run("ALTER FUNCTION oneclick_apply_grants() RENAME TO oneclick_apply_grants_0004")
    run(_WRAP)
    run("SELECT oneclick_apply_grants()")


def _downgrade_postgresql() -> None:
    run = op.get_bind().exec_driver_sql
    for name in _OWN_TRIGGERS:
        run(f"DROP TRIGGER IF EXISTS {name} ON trades")
    for table in PARTITION_KEYS:
        _rebuild(run, table, partitioned=False)
    run(_ROW_AUDIT_TRIGGER)
    run("DROP FUNCTION IF EXISTS oneclick_apply_grants()")
    run("ALTER FUNCTION oneclick_apply_grants_0004() RENAME TO oneclick_apply_grants")
    run("REVOKE SELECT ON alembic_version FROM PUBLIC")
    run(
        """
        DO $do$ BEGIN
        EXECUTE format('REVOKE ALL ON alembic_version FROM %I, %I',
                       oneclick_role('app'), oneclick_role('engine'));
        END $do$
        """
    )
    for signature in _FUNCTION_NAMES:
        run(f"DROP FUNCTION IF EXISTS {signature}")
    run(f"DROP SCHEMA IF EXISTS {SCHEMA}")
    run("SELECT oneclick_apply_grants()")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    with op.batch_alter_table("trades", recreate="always") as batch:
        batch.drop_constraint("fk_trades_copy_of_trade_id_trades", type_="foreignkey")
        batch.drop_constraint("uq_trades_user_id_copy_of_trade_id", type_="unique")
        batch.drop_constraint("uq_trades_tx_hash", type_="unique")
        batch.create_unique_constraint(
            "uq_trades_user_id_copy_of_trade_id", ["user_id", "copy_of_trade_id", "created_at"]
        )
        batch.create_unique_constraint("uq_trades_tx_hash", ["tx_hash", "created_at"])
    run = op.get_bind().exec_driver_sql
    for sql in _SQLITE_TRIGGERS:
        run(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
        return
    run = op.get_bind().exec_driver_sql
    for name in _SQLITE_TRIGGER_NAMES:
        run(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("trades", recreate="always") as batch:
        batch.drop_constraint("uq_trades_user_id_copy_of_trade_id", type_="unique")
        batch.drop_constraint("uq_trades_tx_hash", type_="unique")
        batch.create_unique_constraint(
            "uq_trades_user_id_copy_of_trade_id", ["user_id", "copy_of_trade_id"]
        )
        batch.create_unique_constraint("uq_trades_tx_hash", ["tx_hash"])
        batch.create_foreign_key(
            "fk_trades_copy_of_trade_id_trades",
            "trades",
            ["copy_of_trade_id"],
            ["id"],
            ondelete="RESTRICT",
        )

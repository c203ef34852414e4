"""Hardening (PostgreSQL only): roles and grants, row-level security, tamper-evident audit log.

Why in the database and not only in the app: a bug or a stolen app password must not let one
user read another's rows or rewrite history. So on PostgreSQL this revision

* creates four NOLOGIN roles named ``<prefix>_app``, ``_engine``, ``_analytics``, ``_auditor``
  (prefix = ``oneclick.role_prefix`` database setting, else the database name) when they do
  not exist; roles are cluster-wide, so the prefix keeps databases on one server apart;
* grants each only what it needs (``oneclick_apply_grants()``, re-runnable by ``oneclick db
  roles`` after a restore);
* enables row-level security on user-owned tables, keyed on ``current_setting('app.user_id')``
  (unset = no rows); the copy engine, which writes for many users in one transaction, uses
  its own ``_engine`` role whose policies allow every row;
* makes ``audit_log`` append-only (no UPDATE/DELETE grant and a trigger that raises) and
  chains every row to the previous one with SHA-256 (``prev_hash`` -> ``row_hash``),
  computed in a BEFORE INSERT trigger under a transaction-scoped advisory lock;
* records before/after images of user_preferences, follow_relationships and trades.

SQLite keeps plain tables: it is a single-user file, and has none of these mechanisms.
Self-contained on purpose (no app imports), like 0001.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE_KINDS = ("app", "engine", "analytics", "auditor")

# User-owned tables and the column naming their owner.
RLS_TABLES = {
    "user_preferences": "user_id",
    "user_sessions": "user_id",
    "trades": "user_id",
    "positions": "user_id",
    "portfolio_analytics": "user_id",
    "follow_relationships": "follower_id",
    "community_interactions": "user_id",
    "wallets": "user_id",
}

# Tables whose changes are captured before/after, with the key that names the entity.
AUDITED_TABLES = {
    "user_preferences": "user_id",
    "follow_relationships": "id",
    "trades": "id",
}

_FUNCTIONS = [
    # Role names: one place, so the grants, policies and CLI agree.
    """
    CREATE OR REPLACE FUNCTION oneclick_role(kind text) RETURNS text
    LANGUAGE sql STABLE AS $fn$
        SELECT left(coalesce(nullif(current_setting('oneclick.role_prefix', true), ''),
                             current_database()), 50) || '_' || kind
    $fn$
    """,
    # The user the current transaction acts for; NULL (no rows) when nobody set it.
    """
    CREATE OR REPLACE FUNCTION oneclick_app_user_id() RETURNS bigint
    LANGUAGE sql STABLE AS $fn$
        SELECT nullif(current_setting('app.user_id', true), '')::bigint
    $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION oneclick_ensure_roles() RETURNS void
    LANGUAGE plpgsql AS $fn$
    DECLARE
        kind text;
        name text;
    BEGIN
        FOREACH kind IN ARRAY ARRAY['app', 'engine', 'analytics', 'auditor'] LOOP
            name := oneclick_role(kind);
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
                BEGIN
                    EXECUTE format('CREATE ROLE %I NOLOGIN', name);
                EXCEPTION
                    WHEN insufficient_privilege THEN
                        RAISE EXCEPTION 'role % does not exist and % may not create roles',
                            name, current_user
                            USING HINT = 'run `oneclick db roles` as an administrator first';
                    WHEN unique_violation OR duplicate_object THEN
                        NULL;  -- created concurrently by another migration: fine
                END;
            END IF;
        END LOOP;
    END
    $fn$
    """,
    # Every grant, idempotent: revoke what a role may have, then grant exactly what it needs.
    """
    CREATE OR REPLACE FUNCTION oneclick_apply_grants() RETURNS void
    LANGUAGE plpgsql AS $fn$
    DECLARE
        app text := quote_ident(oneclick_role('app'));
        engine text := quote_ident(oneclick_role('engine'));
        analytics text := quote_ident(oneclick_role('analytics'));
        auditor text := quote_ident(oneclick_role('auditor'));
        everyone text;
    BEGIN
        everyone := format('%s, %s, %s, %s', app, engine, analytics, auditor);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %s', everyone);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %s', everyone);
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %s', current_database(), everyone);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %s', everyone);

        -- app (the console): reads reference data, reads/writes only the user's own rows.
        EXECUTE format('GRANT SELECT ON traders, trading_pairs, trader_performance, '
                       'market_data, metric_points, leaderboards TO %s', app);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON users TO %s', app);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON user_preferences, '
                       'user_sessions, trades, positions, portfolio_analytics, '
                       'follow_relationships, community_interactions, wallets TO %s', app);
        EXECUTE format('GRANT SELECT ON user_trade_history TO %s', app);
        IF to_regclass('public.trader_daily_activity') IS NOT NULL THEN  -- 0002, lead trades
            EXECUTE format('GRANT SELECT ON trader_daily_activity TO %s', app);
        END IF;
        -- audit rows: append only; reading back its own id is what INSERT ... RETURNING needs.
        EXECUTE format('GRANT INSERT, SELECT (id) ON audit_log TO %s', app);

        -- engine (headless copy engine): every table but sessions, audit append-only.
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public '
                       'TO %s', engine);
        EXECUTE format('REVOKE ALL ON user_sessions, alembic_version FROM %s', engine);
        EXECUTE format('REVOKE UPDATE, DELETE ON audit_log FROM %s', engine);

        -- analytics: read-only, nothing private (no sessions, wallets, audit).
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s', analytics);
        EXECUTE format('REVOKE ALL ON user_sessions, wallets, audit_log, alembic_version '
                       'FROM %s', analytics);

        -- auditor: the audit log and nothing else.
        EXECUTE format('GRANT SELECT ON audit_log TO %s', auditor);

        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %s, %s',
                       app, engine);
    END
    $fn$
    """,
    # The chain hash; `oneclick audit verify` recomputes exactly this text in Python.
    """
    CREATE OR REPLACE FUNCTION oneclick_audit_hash(
        prev text, id bigint, occurred_at timestamptz, actor text, action text,
        entity_type text, entity_id text, before jsonb, after jsonb
    ) RETURNS text LANGUAGE sql STABLE AS $fn$
        SELECT encode(sha256(convert_to(concat_ws(chr(31),
            coalesce(prev, ''), id::text,
            to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            actor, action, entity_type, coalesce(entity_id, ''),
            coalesce(before::text, ''), coalesce(after::text, '')), 'UTF8')), 'hex')
    $fn$
    """,
    # One writer at a time extends the chain; the id is drawn under the lock so id order is
    # chain order even when transactions commit out of order.
    """
    CREATE OR REPLACE FUNCTION oneclick_audit_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
        prev text;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('oneclick.audit_log.chain'));
        NEW.id := nextval(pg_get_serial_sequence('public.audit_log', 'id'));
        NEW.occurred_at := coalesce(NEW.occurred_at, clock_timestamp());
        SELECT a.row_hash INTO prev FROM public.audit_log a ORDER BY a.id DESC LIMIT 1;
        NEW.prev_hash := prev;
        NEW.row_hash := oneclick_audit_hash(prev, NEW.id, NEW.occurred_at, NEW.actor,
            NEW.action, NEW.entity_type, NEW.entity_id, NEW.before, NEW.after);
        RETURN NEW;
    END
    $fn$
    """,
    """
    CREATE OR REPLACE FUNCTION oneclick_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $fn$
    """,
    # Before/after images; SECURITY DEFINER so the app needs no extra audit privileges.
    """
    CREATE OR REPLACE FUNCTION oneclick_audit_row_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    DECLARE
        b jsonb;
        a jsonb;
        who text;
    BEGIN
        IF TG_OP <> 'INSERT' THEN b := to_jsonb(OLD); END IF;
        IF TG_OP <> 'DELETE' THEN a := to_jsonb(NEW); END IF;
        IF TG_OP = 'UPDATE' AND a = b THEN RETURN NULL; END IF;
        who := coalesce(
            nullif(current_setting('app.actor', true), ''),
            'user:' || nullif(current_setting('app.user_id', true), ''),
            session_user::text);
        INSERT INTO public.audit_log (occurred_at, actor, action, entity_type, entity_id,
                                      before, after)
        VALUES (clock_timestamp(), left(who, 64), 'row.' || lower(TG_OP), TG_TABLE_NAME,
                coalesce(a, b) ->> TG_ARGV[0], b, a);
        RETURN NULL;
    END
    $fn$
    """,
]

_FUNCTION_NAMES = [
    "oneclick_audit_row_change()",
    "oneclick_audit_append_only()",
    "oneclick_audit_chain()",
    "oneclick_audit_hash(text, bigint, timestamptz, text, text, text, text, jsonb, jsonb)",
    "oneclick_apply_grants()",
    "oneclick_ensure_roles()",
    "oneclick_app_user_id()",
    "oneclick_role(text)",
]

# A user's trades with their pair; security_invoker so RLS applies to whoever reads it.
_VIEW = """
    CREATE VIEW user_trade_history WITH (security_invoker = true) AS
    SELECT t.id, t.user_id, t.kind, t.trade_type, t.amount, t.price, t.status,
           t.executed_at, p.base_asset, p.quote_asset
    FROM trades t JOIN trading_pairs p ON p.id = t.pair_id
    WHERE t.user_id IS NOT NULL
"""


def _policies_sql() -> list[str]:
    """Policies per role, created with the role names resolved now (they are identifiers)."""
    stmts = []
    for table, column in RLS_TABLES.items():
        stmts.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        stmts.append(
            f"""
            DO $do$ BEGIN
            EXECUTE format('CREATE POLICY {table}_app_own ON {table} TO %I '
                           'USING ({column} = oneclick_app_user_id()) '
                           'WITH CHECK ({column} = oneclick_app_user_id())',
                           oneclick_role('app'));
            EXECUTE format('CREATE POLICY {table}_engine_all ON {table} TO %I '
                           'USING (true) WITH CHECK (true)', oneclick_role('engine'));
            EXECUTE format('CREATE POLICY {table}_analytics_read ON {table} FOR SELECT TO %I '
                           'USING (true)', oneclick_role('analytics'));
            END $do$
            """
        )
    # Lead trades (user_id NULL) are public market history: readable, never writable by app.
    stmts.append(
        """
        DO $do$ BEGIN
        EXECUTE format('CREATE POLICY trades_app_lead_read ON trades FOR SELECT TO %I '
                       'USING (user_id IS NULL)', oneclick_role('app'));
        END $do$
        """
    )
    return stmts


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    for sql in _FUNCTIONS:
        run(sql)
    run("SELECT oneclick_ensure_roles()")
    run(_VIEW)
    for sql in _policies_sql():
        run(sql)
    run(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION oneclick_audit_chain()"
    )
    run(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION oneclick_audit_append_only()"
    )
    for table, key in AUDITED_TABLES.items():
        run(
            f"CREATE TRIGGER audit_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION oneclick_audit_row_change('{key}')"
        )
    run(
        "REVOKE EXECUTE ON FUNCTION oneclick_audit_row_change(), oneclick_audit_chain() FROM PUBLIC"
    )
    run("SELECT oneclick_apply_grants()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    for table in AUDITED_TABLES:
        run(f"DROP TRIGGER IF EXISTS audit_{table} ON {table}")
    run("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    run("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log")
    for table in RLS_TABLES:
        for policy in ("app_own", "engine_all", "analytics_read"):
            run(f"DROP POLICY IF EXISTS {table}_{policy} ON {table}")
        run(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    run("DROP POLICY IF EXISTS trades_app_lead_read ON trades")
    run("DROP VIEW IF EXISTS user_trade_history")
    # Take back every privilege; drop the roles this revision created (NOLOGIN ones). Roles
    # an administrator turned into logins with `oneclick db roles` are left to him.
    run(
        """
        DO $do$
        DECLARE
            kind text;
            name text;
        BEGIN
            FOREACH kind IN ARRAY ARRAY['app', 'engine', 'analytics', 'auditor'] LOOP
                name := oneclick_role(kind);
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
                    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', name);
                    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', name);
                    EXECUTE format('REVOKE ALL ON SCHEMA public FROM %I', name);
                    EXECUTE format('REVOKE ALL ON DATABASE %I FROM %I', current_database(), name);
                    IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = name) THEN
                        BEGIN
                            EXECUTE format('DROP ROLE %I', name);
                        EXCEPTION WHEN insufficient_privilege OR dependent_objects_still_exist THEN
                            RAISE NOTICE 'role % kept: %', name, SQLERRM;
                        END;
                    END IF;
                END IF;
            END LOOP;
        END $do$
        """
    )
    for signature in _FUNCTION_NAMES:
        run(f"DROP FUNCTION IF EXISTS {signature}")

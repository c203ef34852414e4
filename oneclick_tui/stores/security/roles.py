"""Database roles: create the login roles, (re)apply grants, and build each role's URL.

Why several roles: the console (`app`) must only reach its user's rows, the headless copy
engine (`engine`) writes for every follower, `analytics` only reads, the `auditor` reads the
audit log and nothing private, and only `owner` may change the schema. Role names are
`<prefix>_<kind>`, prefix = the database name unless the database setting
`oneclick.role_prefix` says otherwise: roles are cluster-wide, databases are not.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import URL, make_url

KINDS = ("owner", "app", "engine", "analytics", "auditor")
_MAX_PREFIX = 50


def role_name(prefix: str, kind: str) -> str:
    """The role of `kind` for a database prefix (same rule as SQL `oneclick_role`)."""
    return f"{prefix[:_MAX_PREFIX]}_{kind}"


async def drop_database_and_roles(admin: asyncpg.Connection, database: str) -> None:
    """Drop a database and the per-database roles the hardening migration made for it.

    Roles are cluster-wide, so a throw-away database (tests, benchmarks) must take its roles
    with it or they pile up.
    """
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    for kind in KINDS:
        await admin.execute(f'DROP ROLE IF EXISTS "{role_name(database, kind)}"')


def libpq_url(url: str) -> str:
    """A SQLAlchemy async URL as a plain libpq/asyncpg URL (driver suffix removed)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def role_url(url: str, role: str, password: str | None) -> str:
    """`url` with another user and password (host, database and sslmode kept)."""
    parsed: URL = make_url(url).set(username=role, password=password)
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class RoleSetup:
    """What `ensure_login_roles` did: role name -> password (None = left unchanged)."""

    prefix: str
    passwords: dict[str, str | None]


def _safe(prefix: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError(f"role prefix {prefix!r}: use letters, digits and _ only")
    return prefix


async def ensure_login_roles(
    admin_url: str,
    prefix: str | None = None,
    reset_passwords: bool = False,
) -> RoleSetup:
    """Create (or make login-capable) the five roles and hand the database to the owner.

    Run as a superuser or a CREATEROLE role, connected to the application database. New
    roles get a random password (returned once); existing ones keep theirs unless
    `reset_passwords`. If the schema is already migrated, grants are re-applied.
    """
    conn = await asyncpg.connect(libpq_url(admin_url))
    try:
        database = await conn.fetchval("SELECT current_database()")
        configured = await conn.fetchval(
            "SELECT nullif(current_setting('oneclick.role_prefix', true), '')"
        )
        chosen = _safe(prefix or configured or database)
        migrated = await conn.fetchval("SELECT to_regproc('oneclick_apply_grants') IS NOT NULL")
        if migrated and chosen != (configured or database):
            # Policies name their roles when migration 0003 creates them.
            raise ValueError(
                f"the role prefix of {database} is already {configured or database!r}; "
                "choose --prefix before `oneclick db upgrade`"
            )
        if prefix and prefix != configured:
            await conn.execute(
                f"ALTER DATABASE \"{database}\" SET oneclick.role_prefix = '{chosen}'"
            )
            await conn.execute(f"SET oneclick.role_prefix = '{chosen}'")
        passwords: dict[str, str | None] = {}
        for kind in KINDS:
            name = role_name(chosen, kind)
            can_login = await conn.fetchval(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", name
            )
            exists = can_login is not None
            # New roles, and NOLOGIN ones the migration made, get their first password now.
            fresh = not can_login or reset_passwords
            password = secrets.token_urlsafe(24) if fresh else None
            if not exists:
                await conn.execute(f'CREATE ROLE "{name}" LOGIN')
            else:
                await conn.execute(f'ALTER ROLE "{name}" LOGIN')
            if password is not None:
                await conn.execute(f"ALTER ROLE \"{name}\" PASSWORD '{password}'")
            passwords[name] = password
        owner = role_name(chosen, "owner")
        await conn.execute(f'ALTER DATABASE "{database}" OWNER TO "{owner}"')
        await conn.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        if migrated:
            await _reassign_to_owner(conn, owner)
            await conn.execute("SELECT oneclick_apply_grants()")
        return RoleSetup(prefix=chosen, passwords=passwords)
    finally:
        await conn.close()


_REASSIGN = """
DO $do$
DECLARE
    r record;
    owner text := __OWNER__;
BEGIN
    FOR r IN
        SELECT c.relname, c.relkind FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND pg_get_userbyid(c.relowner) <> owner
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    LOOP
        EXECUTE format('ALTER %s %I OWNER TO %I',
            CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                           WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.relname, owner);
    END LOOP;
    -- Monthly partitions (migration 0005): the owner creates, detaches and drops them.
    IF to_regnamespace('oneclick_partitions') IS NOT NULL THEN
        EXECUTE format('ALTER SCHEMA oneclick_partitions OWNER TO %I', owner);
        FOR r IN
            SELECT c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'oneclick_partitions' AND c.relkind IN ('r', 'p')
              AND pg_get_userbyid(c.relowner) <> owner
        LOOP
            EXECUTE format('ALTER TABLE oneclick_partitions.%I OWNER TO %I', r.relname, owner);
        END LOOP;
    END IF;
    FOR r IN
        SELECT p.oid::regprocedure AS sig FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'oneclick%'
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', r.sig, owner);
    END LOOP;
END $do$
"""


async def _reassign_to_owner(conn: asyncpg.Connection, owner: str) -> None:
    """Objects migrated before the roles existed (e.g. by a superuser) move to the owner."""
    literal = "'" + owner.replace("'", "''") + "'"
    await conn.execute(_REASSIGN.replace("__OWNER__", literal))


async def apply_grants(owner_url: str) -> None:
    """Re-apply every grant (after a restore into a new database, or new tables)."""
    conn = await asyncpg.connect(libpq_url(owner_url))
    try:
        await conn.execute("SELECT oneclick_ensure_roles()")
        await conn.execute("SELECT oneclick_apply_grants()")
    finally:
        await conn.close()

"""The shared fixtures reach the real servers; if these fail, nothing else can pass."""

import asyncpg
import redis


async def test_fresh_pg_database_is_empty_and_reachable(fresh_pg_url: str) -> None:
    conn = await asyncpg.connect(fresh_pg_url.replace("+asyncpg", ""))
    try:
        tables = await conn.fetch("select tablename from pg_tables where schemaname='public'")
    finally:
        await conn.close()
    assert tables == []


def test_redis_answers(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("oneclick:smoke", "1")
    assert client.get("oneclick:smoke") == b"1"
    client.close()

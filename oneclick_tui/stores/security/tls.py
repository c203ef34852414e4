"""Honour libpq's `sslmode` (and `sslrootcert`) in a postgresql+asyncpg URL.

Why: operators copy URLs like `...?sslmode=verify-full&sslrootcert=/etc/ssl/pg-ca.pem` from
libpq tools, and pg_dump/pg_restore understand them, but asyncpg's connect() takes `ssl`
instead. `asyncpg_url_and_args` moves them into `connect_args` so both paths agree.
Wire it in `stores.db.make_engine`: `url, extra = asyncpg_url_and_args(url)` and pass
`connect_args=extra`.
"""

from __future__ import annotations

import ssl
from typing import Any

from sqlalchemy.engine import make_url

_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


def asyncpg_url_and_args(url: str) -> tuple[str, dict[str, Any]]:
    """(URL without libpq TLS options, connect_args for asyncpg)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url, {}
    query = dict(parsed.query)
    mode = query.pop("sslmode", None)
    rootcert = query.pop("sslrootcert", None)
    if mode is None and rootcert is None:
        return url, {}
    mode = str(mode or "verify-full")
    if mode not in _MODES:
        raise ValueError(f"sslmode must be one of {sorted(_MODES)}, got {mode!r}")
    args: dict[str, Any] = {}
    if mode in {"verify-ca", "verify-full"} and rootcert:
        context = ssl.create_default_context(cafile=str(rootcert))
        context.check_hostname = mode == "verify-full"
        args["ssl"] = context
    else:
        args["ssl"] = mode
    stripped = parsed.set(query=query).render_as_string(hide_password=False)
    return stripped, args

"""The core is reachable without the TUI: domain, services and stores never import Textual.

Checked in a fresh interpreter, so a module imported by another test cannot hide a leak.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import oneclick_tui.domain, oneclick_tui.services, oneclick_tui.stores
for package in (oneclick_tui.domain, oneclick_tui.services, oneclick_tui.stores):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
leaked = sorted(name for name in sys.modules if name == "textual" or name.startswith("textual."))
print("LEAKED" if leaked else "CLEAN", leaked[:5])
"""

DOMAIN_PROBE = """
import importlib, pkgutil, sys
import oneclick_tui.domain as domain
for info in pkgutil.walk_packages(domain.__path__, domain.__name__ + "."):
    importlib.import_module(info.name)
io_modules = ("sqlalchemy", "redis", "asyncpg", "aiohttp", "httpx", "influxdb_client", "keyring")
io = [n for n in io_modules if n in sys.modules]
print("IO" if io else "PURE", io)
"""


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip()


def test_core_layers_do_not_import_textual() -> None:
    assert _run(PROBE).startswith("CLEAN"), _run(PROBE)


def test_domain_does_no_io() -> None:
    out = _run(DOMAIN_PROBE)
    assert out.startswith("PURE"), out

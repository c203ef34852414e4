"""The console on testnet in one process (no Redis): it runs the live engine itself.

The fullnode and Decibel are tests/aptos_standin.py's stand-ins, because no Aptos node or
Decibel API can be reached from this machine; they answer in the real APIs' shapes.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import AptosSettings, Settings
from oneclick_tui.widgets.ladder import Ladder
from tests.aptos_standin import StandinDecibel, StandinNode
from tests.ui.conftest import wait_until


@pytest.fixture
async def chain() -> AsyncIterator[tuple[StandinNode, StandinDecibel]]:
    node, decibel = StandinNode(chain_id=2), StandinDecibel()
    await node.start()
    await decibel.start()
    yield node, decibel
    await decibel.stop()
    await node.stop()


def _settings(tmp_path: Path, fullnode: str, decibel: StandinDecibel) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
        network="testnet",
        aptos=AptosSettings(
            fullnode_url=fullnode,
            decibel_url=decibel.base_url,
            decibel_ws_url=decibel.ws_url,
            poll_interval_s=0.1,
        ),
    )


async def test_the_console_shows_live_decibel_books_on_testnet(
    tmp_path: Path, chain: tuple[StandinNode, StandinDecibel]
) -> None:
    node, decibel = chain
    app = OneClickApp(_settings(tmp_path, node.base_url, decibel))
    async with app.run_test(size=(160, 45)) as pilot:
        try:
            await wait_until(pilot, lambda: app.ctx is not None, 60, "boot")
            assert app.ctx is not None and "APT/USDC" in app.ctx.pairs
            await wait_until(pilot, lambda: app.status.engine == "running", 30, "live engine")

            def best_ask() -> object:
                snap = app.screen.query_one(Ladder).snapshot
                return snap is not None and snap.pair == "APT/USDC" and snap.asks[0][0]

            await wait_until(pilot, best_ask, 30, "the Decibel book on the ladder")
            assert best_ask() == D("8.4497")
            assert app.status.network == "testnet"
        finally:
            await app.shutdown()


async def test_an_unreachable_node_is_said_and_the_console_stays_up(
    tmp_path: Path, chain: tuple[StandinNode, StandinDecibel]
) -> None:
    _, decibel = chain
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    app = OneClickApp(_settings(tmp_path, closed, decibel))
    async with app.run_test(size=(160, 45)) as pilot:
        try:
            await wait_until(pilot, lambda: app.ctx is not None, 60, "boot")
            await wait_until(
                pilot,
                lambda: any("cannot reach the testnet fullnode" in str(n.message)
                            for n in app._notifications),
                30,
                "the error notification",
            )  # fmt: skip
            assert app.status.engine == "stopped"
            await pilot.press("2")  # the console still answers keys
            await wait_until(pilot, lambda: app.current_mode == "traders", 10, "Traders")
        finally:
            await app.shutdown()

"""Build + sign + serialize rate for one copy (swap) transaction, on one core.

    .venv/bin/python bench/bench_signing.py [--seconds 2] [--repeat 5]

Each operation: the Hyperion exact-input swap payload (min-out from slippage), the
RawTransaction, the Ed25519 signature, the SignedTransaction BCS and its hash: everything
the copy engine does per copy before submitting. The aptos-sdk-only path (RawTransaction.sign
+ SignedTransaction.bytes(), no hash) is measured alongside as the reference.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from decimal import Decimal

from aptos_sdk.transactions import SignedTransaction

from oneclick_tui.services.wallet import contracts, payloads
from oneclick_tui.services.wallet.keys import generate_key
from oneclick_tui.services.wallet.signing import TxParams, build_raw_transaction, sign_payload

USDC = contracts.USDC_FA_METADATA
SLIPPAGE = Decimal("0.005")


def _rate(op: Callable[[int], object], seconds: float, repeat: int) -> float:
    best = 0.0
    seq = 0
    for _ in range(repeat):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(200):
                op(seq)
                seq += 1
            n += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    key = generate_key()
    expiry = int(time.time()) + 3600

    def swap(seq: int) -> payloads.TransactionPayload:
        return payloads.hyperion_exact_input(
            from_token=contracts.APT_FA_METADATA,
            to_token=USDC,
            amount_in=100_000_000 + seq,
            expected_out=5_000_000,
            slippage=SLIPPAGE,
            recipient=key.address,
            deadline_secs=expiry,
        )

    def ours(seq: int) -> object:
        return sign_payload(key, swap(seq), TxParams(seq, 1, expiry)).bcs

    sdk_key = key.signing_key()

    def sdk(seq: int) -> object:
        raw = build_raw_transaction(key.account_address, swap(seq), TxParams(seq, 1, expiry))
        return SignedTransaction(raw, raw.sign(sdk_key)).bytes()

    ours_rate = _rate(ours, args.seconds, args.repeat)
    sdk_rate = _rate(sdk, args.seconds, args.repeat)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}"
    )
    print(f"oneclick build+sign+serialize+hash (swap): {ours_rate:,.0f}/s")
    print(f"aptos-sdk build+sign+serialize (swap):     {sdk_rate:,.0f}/s")


if __name__ == "__main__":
    main()

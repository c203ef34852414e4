"""The Aptos read side: fullnode client, swap decoding, lead-trader watcher, Decibel depth."""

from oneclick_tui.services.aptos.client import FullnodeClient, FullnodeError, MalformedResponse
from oneclick_tui.services.aptos.decibel import DecibelDepthAdapter, DecibelRestClient
from oneclick_tui.services.aptos.swaps import MAINNET_TOKENS, SwapDecoder, Token
from oneclick_tui.services.aptos.watcher import AccountWatcher, PollResult

__all__ = [
    "MAINNET_TOKENS",
    "AccountWatcher",
    "DecibelDepthAdapter",
    "DecibelRestClient",
    "FullnodeClient",
    "FullnodeError",
    "MalformedResponse",
    "PollResult",
    "SwapDecoder",
    "Token",
]

"""Event bus: one interface (`Bus`), an in-process backend and a Redis pub/sub backend."""

from oneclick_tui.stores.bus.base import (
    Bus,
    BusHealth,
    Message,
    Mode,
    Subscription,
    SubscriptionClosed,
)

__all__ = ["Bus", "BusHealth", "Message", "Mode", "Subscription", "SubscriptionClosed"]

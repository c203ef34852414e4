"""Cache: one interface (`Cache`), an in-process backend and a Redis backend."""

from oneclick_tui.stores.cache.base import Cache, CacheError, CacheUnavailableError, WrongTypeError

__all__ = ["Cache", "CacheError", "CacheUnavailableError", "WrongTypeError"]

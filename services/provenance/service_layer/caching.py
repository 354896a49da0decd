"""A bounded cache of values read by id in batches: the hits from memory, the misses of a
request in one read, the least recently used out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    def __init__(self, load: Callable[[list[int]], dict[int, V]], capacity: int) -> None:
        self._load = load  # the misses, in one read; ids it does not return do not exist
        self._capacity = capacity
        self._cache: OrderedDict[int, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ids: Iterable[int]) -> dict[int, V]:
        found: dict[int, V] = {}
        missing: list[int] = []
        with self._lock:
            for key in ids:
                value = self._cache.get(key)
                if value is None:
                    missing.append(key)
                else:
                    self._cache.move_to_end(key)
                    found[key] = value
        if missing:
            loaded = self._load(missing)
            with self._lock:
                for key, value in loaded.items():
                    found[key] = value
                    self._cache[key] = value
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        return found

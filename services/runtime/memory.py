"""Giving memory back to the operating system after large, short-lived builds."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def release_free_memory() -> None:
    """After a bulk load, glibc keeps the freed temporaries (millions of small byte strings)
    in its heap, so the process looks far bigger than what it holds. `malloc_trim` returns
    those pages; elsewhere (musl, macOS) this does nothing."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def map_large_allocations(threshold: int = 1 << 20) -> None:
    """Serve allocations of `threshold` bytes or more with their own mappings, returned
    to the operating system when freed. glibc otherwise raises this threshold to the
    size of any large block freed (up to 32 MB): an index that rebuilds arrays of tens of
    megabytes would then take them from its heap, where freed ones stay resident. A
    fixed threshold turns that adjustment off; elsewhere (musl, macOS) this does
    nothing."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, threshold)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None

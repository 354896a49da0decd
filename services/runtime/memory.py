"""Giving memory back to the operating system after a large, short-lived build."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys


def release_free_memory() -> None:
    """After a bulk load, glibc keeps the freed temporaries (millions of small byte strings)
    in its heap, so the process looks far bigger than what it holds. `malloc_trim` returns
    those pages; elsewhere (musl, macOS) this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)

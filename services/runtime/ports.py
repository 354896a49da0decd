"""Free TCP ports for services started side by side (tests, benchmarks, `licentia up`).

A port found by binding port 0 comes from the kernel's ephemeral range, so the kernel may
hand the same number to the next server bound to port 0, or to an outgoing connection,
before the caller binds it. Ports chosen below that range are never given out that way.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20_000
_handed_out: set[int] = set()
# Its own generator: the global one belongs to the caller (tests seed it).
_choose = random.Random()


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; other systems start higher


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range, not handed out before
    by this process."""
    top = max(_ephemeral_start(), _LOWEST + 1_000)
    for _ in range(200):
        port = _choose.randrange(_LOWEST, top)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {_LOWEST} and {top}")

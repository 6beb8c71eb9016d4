"""Free loopback ports that no outgoing connection can take.

A port the kernel hands out for ``bind(0)`` comes from the ephemeral range, the
same range it picks source ports from for outgoing connections. Between "found
free" and the server's own ``bind`` another process's client socket can take it
(seen: etcd failing with "address already in use" beside a busy Prometheus).
Ports below the ephemeral range are never used as source ports, so a port found
free there stays free until somebody binds it on purpose.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000
_given: set[int] = set()
_lock = threading.Lock()


def _candidates() -> range:
    try:
        lo, hi = (int(p) for p in _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo - _LOWEST >= 2000:
        return range(_LOWEST, lo)
    return range(hi + 1, 65536)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port outside the ephemeral range, free now and not given before by this process."""
    candidates = _candidates()
    rng = random.SystemRandom()
    with _lock:
        for _ in range(1000):
            port = rng.choice(candidates)
            if port not in _given and port_is_free(port, host):
                _given.add(port)
                return port
    raise OSError(f"no free port in {candidates.start}-{candidates.stop - 1}")

"""Where a read goes when the client has read replicas: round robin over the replicas that are up,
the primary when none is, or while read-your-writes holds reads there after this client's writes."""

from __future__ import annotations

import threading
import time

from .limits import REPLICA_RETRY


class Router:
    """Round robin over ``replicas`` replicas; a replica marked down is skipped for ``retry_after``
    seconds. ``read_your_writes`` (seconds): reads go to the primary for that long after a write of
    this client, so a caller reads what it wrote while the replicas replay it."""

    def __init__(self, replicas: int, *, read_your_writes: float = 0.0, retry_after: float = REPLICA_RETRY):
        self._n = replicas
        self._read_your_writes = read_your_writes
        self._retry_after = retry_after
        self._lock = threading.Lock()  # for threads; tasks of one loop never interleave here
        self._next = 0
        self._down_until = [0.0] * replicas
        self._last_write = float("-inf")

    def order(self) -> list[int]:
        """The replicas to try for the next read, in turn (empty: read from the primary)."""
        now = time.monotonic()
        if self._n == 0 or now - self._last_write < self._read_your_writes:
            return []
        with self._lock:
            start, self._next = self._next, (self._next + 1) % self._n
        ring = [(start + i) % self._n for i in range(self._n)]
        return [i for i in ring if self._down_until[i] <= now]

    def down(self, replica: int) -> None:
        """Leave ``replica`` out of the rotation for a while (it could not be reached)."""
        self._down_until[replica] = time.monotonic() + self._retry_after

    def wrote(self) -> None:
        """This client has written: hold its reads on the primary for read_your_writes seconds."""
        if self._read_your_writes:
            self._last_write = time.monotonic()

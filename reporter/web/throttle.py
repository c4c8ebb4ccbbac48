"""Failed logins counted per user name and per client address, in this process's memory.

A key (a name or an address) with `failures` wrong passwords within the
window is locked out; its first lockout lasts one window, each further one
twice the last, up to `lockout_max_s`; a key quiet for `lockout_max_s` starts
again from the first. An attempt in progress counts as a failure until it
succeeds, so concurrent guesses cannot overshoot the limit. A success clears
its user name, never its address (a valid account must not launder an
address's failures).

The counts live in one process: with several worker processes each keeps its
own, and a restart forgets them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Retry-After while the limit is reached only through attempts still being verified.
PENDING_RETRY_S = 1.0
NAME_LENGTH = 200


@dataclass(frozen=True)
class Limit:
    failures: int
    window_s: float
    lockout_max_s: float


@dataclass
class _Key:
    limit: Limit
    failures: list[float] = field(default_factory=list)
    pending: int = 0
    strikes: int = 0
    locked_until: float = 0.0
    last_failure: float = float("-inf")

    def idle(self, now: float) -> bool:
        """Nothing to remember: no attempt in progress, no lockout, no failure that could still count."""
        quiet = now - self.last_failure >= max(self.limit.window_s, self.limit.lockout_max_s)
        return not self.pending and self.locked_until <= now and quiet


class LoginThrottle:
    """Refuses login attempts of locked-out names and addresses; counts the others' outcomes."""

    def __init__(
        self, per_user: Limit, per_address: Limit, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.clock = clock
        self.max_keys = max_keys
        self._keys: dict[str, _Key] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, address: str) -> float | None:
        """Seconds until a retry may succeed when the name or address is locked out; else None, and the attempt is
        pending."""
        now = self.clock()
        pairs = self._pairs(name, address)
        with self._lock:
            keys = [(self._key(k, limit, now), limit) for k, limit in pairs]
            waits = [self._wait(key, limit, now) for key, limit in keys]
            if any(w is not None for w in waits):
                return max(w for w in waits if w is not None)
            for key, _limit in keys:
                key.pending += 1
        return None

    def release(self, name: str, address: str, ok: bool) -> None:
        """The outcome of an acquired attempt: a success clears the name, a failure counts for both."""
        now = self.clock()
        with self._lock:
            for i, (k, limit) in enumerate(self._pairs(name, address)):
                key = self._key(k, limit, now)
                key.pending = max(0, key.pending - 1)
                if ok:
                    if i == 0:
                        self._keys[k] = _Key(limit, pending=key.pending)
                    continue
                key.failures.append(now)
                key.last_failure = now
                if len(key.failures) >= limit.failures:
                    key.strikes += 1
                    key.locked_until = now + min(limit.window_s * 2 ** (key.strikes - 1), limit.lockout_max_s)
                    key.failures.clear()

    def _pairs(self, name: str, address: str) -> list[tuple[str, Limit]]:
        return [("user:" + name.strip().casefold()[:NAME_LENGTH], self.per_user), ("addr:" + address, self.per_address)]

    def _key(self, k: str, limit: Limit, now: float) -> _Key:
        key = self._keys.pop(k, None)
        if key is None:
            if len(self._keys) >= self.max_keys:
                self._evict(now)
            key = _Key(limit)
        self._keys[k] = key  # re-inserted: the dict's order is least recently used first
        key.failures = [t for t in key.failures if t > now - limit.window_s]
        if key.strikes and key.locked_until <= now and now - key.last_failure >= limit.lockout_max_s:
            key.strikes = 0
        return key

    @staticmethod
    def _wait(key: _Key, limit: Limit, now: float) -> float | None:
        if key.locked_until > now:
            return key.locked_until - now
        if len(key.failures) + key.pending >= limit.failures:
            return PENDING_RETRY_S
        return None

    def _evict(self, now: float) -> None:
        """Forget idle keys; when none is idle, the least recently used half of the others."""
        for k in [k for k, key in self._keys.items() if key.idle(now)]:
            del self._keys[k]
        if len(self._keys) >= self.max_keys:
            for k in [k for k, key in self._keys.items() if not key.pending][: self.max_keys // 2]:
                del self._keys[k]

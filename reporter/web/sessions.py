"""Login sessions: a signed cookie that carries its issue time and its user's session generation.

The cookie alone cannot be revoked, so the reporter's database keeps one
counter per user name: a logout increments it, and a session that carries an
older generation is refused by every worker process, now and after a restart.
A session also ends a fixed time after its login, however much it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from reporter.models import WebSessionGeneration

session_generations = WebSessionGeneration.__table__  # created by migration 0004


@dataclass(frozen=True)
class Login:
    """What the session cookie holds about its user."""

    name: str
    generation: int
    issued_at: float  # seconds since the epoch

    def to_session(self) -> dict[str, Any]:
        return {"name": self.name, "gen": self.generation, "iat": int(self.issued_at)}

    @classmethod
    def from_session(cls, data: Any) -> Login | None:
        """The login a session holds, or None for an unknown shape (a cookie from an older version)."""
        if not isinstance(data, dict):
            return None
        name, generation, issued_at = data.get("name"), data.get("gen"), data.get("iat")
        if (
            not isinstance(name, str)
            or type(generation) is not int
            or not isinstance(issued_at, (int, float))
            or isinstance(issued_at, bool)
        ):
            return None
        return cls(name, generation, issued_at)


class SessionStore:
    """Session generations in the reporter's database, and the lifetime of a login."""

    def __init__(self, engine: Engine, lifetime_s: float, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.lifetime_s = lifetime_s
        self.clock = clock

    def generation(self, name: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(session_generations.c.generation).where(session_generations.c.name == name)
            ).scalar()
        return value or 0

    def issue(self, name: str) -> Login:
        """A login for a user whose password was just verified."""
        return Login(name, self.generation(name), self.clock())

    def valid(self, login: Login) -> bool:
        """Not expired, not issued in the future, and not revoked by a logout since."""
        if not 0 <= self.clock() - login.issued_at < self.lifetime_s:
            return False
        return login.generation == self.generation(login.name)

    def revoke(self, name: str) -> None:
        """End every session of that user, in every process (a logout)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        if self._bump(name, now):
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(session_generations).values(name=name, generation=1, revoked_at=now))
        except IntegrityError:
            self._bump(name, now)  # another process inserted the row first (rows are never deleted)

    def _bump(self, name: str, now: datetime) -> bool:
        table = session_generations
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(table).where(table.c.name == name).values(generation=table.c.generation + 1, revoked_at=now)
                ).rowcount
            )

"""Users, password hashes (argon2) and roles of the web app."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
ROLES = ("viewer", "operator")
# Verifying against this keeps a wrong user name as slow as a wrong password.
_DUMMY = _HASHER.hash("not a password")


def hash_password(password: str) -> str:
    """An argon2id hash for web.users[].password_hash."""
    return _HASHER.hash(password)


@dataclass(frozen=True)
class User:
    name: str
    role: str  # viewer | operator

    @property
    def can_run(self) -> bool:
        return self.role == "operator"


def authenticate(users: dict[str, tuple[str, str]], name: str, password: str) -> User | None:
    """The user when the password matches its hash; None otherwise (in constant work per attempt)."""
    entry = users.get(name)
    try:
        _HASHER.verify(entry[0] if entry else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, entry[1]) if entry else None

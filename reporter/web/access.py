"""Who is asking: the request's user (from the session cookie, or anonymous browsing) and its CSRF token."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request

from reporter.web.auth import User
from reporter.web.sessions import Login
from reporter.web.state import state_of


def current_user(request: Request) -> User | None:
    """The request's user, looked up once per request (a valid session costs one database read)."""
    try:
        user: User | None = request.state.user
    except AttributeError:
        user = request.state.user = _session_user(request)
    return user


def _session_user(request: Request) -> User | None:
    state = state_of(request)
    login = Login.from_session(request.session.get("login"))
    if login is not None and login.name in state.users and state.sessions.valid(login):
        return User(login.name, state.users[login.name][1])
    return User("anonymous", "viewer") if state.settings.web.anonymous else None


def is_operator(user: User) -> bool:
    """May run jobs and see recipients: a logged-in operator (anonymous browsing never is one)."""
    return user.can_run and user.name != "anonymous"


def csrf_ok(request: Request, form: Any) -> bool:
    """The form carries the session's CSRF token."""
    return secrets.compare_digest(str(form.get("csrf", "")), request.session.get("csrf", "") or "-")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


class LazyToken:
    """The session's CSRF token, created only if a template prints it (no cookie for plain reads)."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def __str__(self) -> str:
        return csrf_token(self.request)

    def __html__(self) -> str:
        return str(self)

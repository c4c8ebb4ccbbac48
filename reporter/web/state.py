"""What the web app's handlers share: the settings, the archive, the run log and job actions, logins, templates.

create_app builds one WebState and keeps it on the app; a handler reads it
with state_of(request), typed, instead of from a closure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import Response

from reporter.settings import Settings
from reporter.web.auth import User
from reporter.web.listing import CachedArchive
from reporter.web.sessions import SessionStore
from reporter.web.throttle import LoginThrottle


class ResponseCache:
    """Listing responses, remembered per user, session token, URL and archive state."""

    def __init__(self, archive: CachedArchive, size: int = 1024) -> None:
        self.archive = archive
        self.size = size
        self._responses: dict[tuple[Any, ...], Response] = {}
        self._lock = threading.Lock()

    def get(self, request: Request, user: User, build: Callable[[], Response]) -> Response:
        """The remembered response to that request, or build()'s (remembered if a 200 that sets no cookie)."""
        self.archive.runs()
        key = (
            user.name,
            user.role,
            request.session.get("csrf"),
            request.url.path,
            request.url.query,
            self.archive.stamp,
        )
        with self._lock:
            hit = self._responses.get(key)
        if hit is not None:
            return Response(hit.body, status_code=hit.status_code, media_type=hit.media_type)
        response = build()
        if response.status_code == 200 and "set-cookie" not in response.headers:
            with self._lock:
                if len(self._responses) > self.size:
                    self._responses.clear()
                self._responses[key] = response
        return response


@dataclass(frozen=True)
class WebState:
    """The app's collaborators and configuration, shared by every request."""

    settings: Settings
    templates: Environment
    archive: CachedArchive
    responses: ResponseCache
    history: Callable[[str | None, int], list[Any]]  # (job or None, limit) -> run-log runs, newest first
    jobs: Callable[[], list[dict[str, Any]]]  # the configured jobs with their last and next runs
    run_now: Callable[[str], list[str]]  # runs a job by name, returns one line per campaign
    sessions: SessionStore
    throttle: LoginThrottle
    verifier: Executor  # where passwords are verified, off the event loop
    users: dict[str, tuple[str, str]]  # name -> (password hash, role)
    bcc: dict[str, frozenset[str]]  # job name -> its Bcc addresses, never shown
    alerts: Callable[[], tuple[list[Any], list[Any]]] = lambda: ([], [])  # alert states, and their newest events


def state_of(request: Request) -> WebState:
    """The shared state of the app serving the request."""
    web: WebState = request.app.state.web
    return web

"""The ASGI app (Starlette): archive, campaigns, report pages, downloads, history, jobs with run-now, JSON API.

build_app wires the web app to the reporter; create_app builds it over its
collaborators. The handlers live in the *_routes.py modules, one per page,
behind one guard (guard.py), and read what they share from the app's WebState
(state.py). Every response carries security headers, error pages included.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route

from reporter.errors import ArchiveError, ArchiveRootError, UserError
from reporter.render import environment
from reporter.settings import Settings
from reporter.web import (
    alerts_routes,
    archive_routes,
    campaign_routes,
    history_routes,
    jobs_routes,
    login_routes,
    report_routes,
)
from reporter.web.headers import HeadedStarlette
from reporter.web.history import address_of
from reporter.web.listing import CachedArchive
from reporter.web.responses import archive_unavailable
from reporter.web.sessions import SessionStore
from reporter.web.state import ResponseCache, WebState
from reporter.web.throttle import Limit, LoginThrottle

ROUTES = [
    Route("/", archive_routes.index),
    Route("/login", login_routes.login, methods=["GET", "POST"]),
    Route("/logout", login_routes.logout, methods=["POST"]),
    Route("/reports/{job}/{campaign}/{period}", report_routes.report),
    Route("/reports/{job}/{campaign}/{period}/{name}", report_routes.download),
    Route("/campaigns", campaign_routes.campaigns_page),
    Route("/campaigns/{campaign_id:path}", campaign_routes.campaign_page),
    Route("/history", history_routes.history_page),
    Route("/jobs", jobs_routes.jobs_page),
    Route("/jobs/{name}/run", jobs_routes.run_job_now, methods=["POST"]),
    Route("/api/runs", archive_routes.api_runs),
    Route("/api/history", history_routes.api_history),
    Route("/api/jobs", jobs_routes.api_jobs),
    Route("/alerts", alerts_routes.alerts_page),
    Route("/api/alerts", alerts_routes.api_alerts),
]


def build_app(settings: Settings, engine: Engine, config_path: Path | None, db_url: str) -> HeadedStarlette:
    """The app wired to the reporter: archive root, run log, configured jobs, run-now = `reporter run`."""
    from reporter.history import runs

    secret = os.environ.get(settings.web.secret_key_env)
    if not secret and not settings.web.anonymous:
        raise UserError(
            f"web.secret_key_env: the environment variable {settings.web.secret_key_env} is not set "
            "(it signs the session cookies; or set web.anonymous: true)"
        )
    if not settings.web.anonymous and not settings.web.users:
        raise UserError(
            "web: nobody could log in: add web.users (see `reporter hash-password`) or set web.anonymous: true"
        )
    if secret is not None and len(secret) < 16:
        raise UserError(f"web.secret_key_env: {settings.web.secret_key_env} is too short (at least 16 characters)")
    sessions = SessionStore(engine, settings.web.session_hours * 3600, time.time)
    return create_app(
        settings,
        settings.archive.root,
        functools.partial(runs, engine),
        functools.partial(_jobs, engine, settings),
        functools.partial(_run_now, engine, settings, []),
        secret,
        sessions,
        alerts=functools.partial(_alerts, engine),
    )


def create_app(
    settings: Settings,
    archive_root: Path,
    history: Callable[[str | None, int], list[Any]],
    jobs: Callable[[], list[dict[str, Any]]],
    run_now: Callable[[str], list[str]],
    secret_key: str | None,
    sessions: SessionStore,
    throttle: LoginThrottle | None = None,
    alerts: Callable[[], tuple[list[Any], list[Any]]] | None = None,
) -> HeadedStarlette:
    """The web app over an archive root, a run-log reader, a job lister, the run-now action and the session store."""
    web = settings.web
    archive = CachedArchive(archive_root)
    state = WebState(
        settings=settings,
        templates=environment(),
        archive=archive,
        responses=ResponseCache(archive),
        history=history,
        jobs=jobs,
        run_now=run_now,
        sessions=sessions,
        throttle=throttle
        or LoginThrottle(
            Limit(web.login_user_failures, web.login_window_s, web.login_lockout_max_s),
            Limit(web.login_address_failures, web.login_window_s, web.login_lockout_max_s),
        ),
        # A pool of its own: a flood of password guesses never takes the threads of other work.
        verifier=ThreadPoolExecutor(max_workers=web.password_threads, thread_name_prefix="password"),
        users={u.name: (u.password_hash, u.role) for u in web.users},
        bcc={j.name: frozenset(address_of(a) for a in j.email.bcc) if j.email else frozenset() for j in settings.jobs},
        **({"alerts": alerts} if alerts is not None else {}),
    )
    # The cookie's own expiry is renewed by every response; the login's issue time inside it is not.
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=secret_key or secrets.token_urlsafe(32),
            session_cookie="reporter_session",
            same_site="strict",
            https_only=False,
            max_age=int(sessions.lifetime_s),
        ),
    ]
    app = HeadedStarlette(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers={ArchiveError: archive_unavailable, ArchiveRootError: archive_unavailable},
    )
    app.state.web = state
    return app


def _alerts(engine: Engine) -> tuple[list[Any], list[Any]]:
    from reporter.alerts.store import history, states

    return states(engine), history(engine, limit=100)


def _jobs(engine: Engine, settings: Settings) -> list[dict[str, Any]]:
    from reporter.history import job_overview

    return job_overview(engine, settings, datetime.now(UTC))


def _run_now(engine: Engine, settings: Settings, queues: list[Any], name: str) -> list[str]:
    """Run a job now: its units sent to the workers when `queue.url` is set (at once), else produced here."""
    from reporter.jobs.runner import production_for, queue_of, run_job

    if not queues:  # one queue (one Celery app) for the app's life, made at the first run
        queues.append(queue_of(engine, settings))
    job = settings.job(name)
    production = production_for(settings, [job], check=queues[0] is None)
    results = run_job(engine, settings, job, datetime.now(UTC), production, queue=queues[0])
    return [r.message for r in results]

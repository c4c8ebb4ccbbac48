"""The ASGI app (Starlette): archive, report pages, downloads, history, jobs with run-now, JSON API.

Every response carries security headers, error pages included; archived HTML
is served with a Content-Security-Policy that forbids any fetch. Files are
found through the archive index only: a request names an indexed run folder
and a file of its manifest, never a path, so nothing outside the archive root
can be read. Passwords are verified in a small thread pool, never in the event
loop, and failed logins are limited per user name and per client address.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reporter import __version__
from reporter.web.auth import User, authenticate
from reporter.web.headers import REPORT_CSP, HeadedStarlette
from reporter.web.history import address_of, redact_message, visible_runs
from reporter.web.listing import CachedArchive, paginate
from reporter.web.sessions import Login, SessionStore
from reporter.web.throttle import Limit, LoginThrottle

CONTENT_TYPES = {".pdf": "application/pdf", ".html": "text/html; charset=utf-8", ".json": "application/json"}


def create_app(
    settings: Any,
    archive_root: Path,
    history: Callable[[str | None, int], list[Any]],
    jobs: Callable[[], list[dict[str, Any]]],
    run_now: Callable[[str], list[str]],
    secret_key: str | None,
    sessions: SessionStore,
    throttle: LoginThrottle | None = None,
) -> HeadedStarlette:
    """The web app over an archive root, a run-log reader, a job lister, the run-now action and the session store."""
    from reporter.render import environment

    env = environment()
    archive = CachedArchive(archive_root)
    web = settings.web
    users = {u.name: (u.password_hash, u.role) for u in web.users}
    anonymous = web.anonymous
    bcc = {j.name: frozenset(address_of(a) for a in j.email.bcc) if j.email else frozenset() for j in settings.jobs}
    throttle = throttle or LoginThrottle(Limit(web.login_user_failures, web.login_window_s, web.login_lockout_max_s),
                                         Limit(web.login_address_failures, web.login_window_s, web.login_lockout_max_s))
    # A pool of its own: a flood of password guesses never takes the threads of other work.
    verifier = ThreadPoolExecutor(max_workers=web.password_threads, thread_name_prefix="password")

    def current_user(request: Request) -> User | None:
        """The request's user, looked up once per request (a valid session costs one database read)."""
        user = getattr(request.state, "user", False)
        if user is False:
            user = request.state.user = session_user(request)
        return user

    def session_user(request: Request) -> User | None:
        login = Login.from_session(request.session.get("login"))
        if login is not None and login.name in users and sessions.valid(login):
            return User(login.name, users[login.name][1])
        return User("anonymous", "viewer") if anonymous else None

    def csrf_ok(request: Request, form: Any) -> bool:
        return secrets.compare_digest(str(form.get("csrf", "")), request.session.get("csrf", "") or "-")

    def csrf_token(request: Request) -> str:
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

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(f"web/{template}").render(
            user=current_user(request), csrf=LazyToken(request), version=__version__, request_path=request.url.path,
            company=settings.branding.company, **context)
        return HTMLResponse(html, status_code=status)

    responses: dict[tuple, Response] = {}
    cache_lock = threading.Lock()

    def cached(request: Request, user: User, build: Callable[[], Response]) -> Response:
        """Listing responses, remembered per user, session token, URL and archive state."""
        archive.runs()
        key = (user.name, user.role, request.session.get("csrf"), request.url.path, request.url.query, archive.stamp)
        with cache_lock:
            hit = responses.get(key)
        if hit is not None:
            return Response(hit.body, status_code=hit.status_code, media_type=hit.media_type)
        response = build()
        if response.status_code == 200 and "set-cookie" not in response.headers:
            with cache_lock:
                if len(responses) > 1024:
                    responses.clear()
                responses[key] = response
        return response

    def require(request: Request, api: bool = False) -> User | Response:
        user = current_user(request)
        if user is not None:
            return user
        if api:
            return JSONResponse({"error": "authentication required"}, status_code=401)
        return page(request, "login.html.j2", status=401, next=request.url.path, error=None)

    def filters(request: Request) -> tuple[dict[str, Any], str | None]:
        q = request.query_params
        try:
            start = date.fromisoformat(q["from"]) if q.get("from") else None
            end = date.fromisoformat(q["to"]) if q.get("to") else None
            number = int(q.get("page", "1"))
        except ValueError as exc:
            return {}, f"bad filter: {exc}"
        return {"job": q.get("job", ""), "campaign": q.get("campaign", ""), "start": start, "end": end, "page": number}, None

    def listing(request: Request) -> tuple[Any, dict[str, Any]] | Response:
        f, error = filters(request)
        if error:
            return JSONResponse({"error": error}, status_code=400)
        runs = archive.filtered(f["job"], f["campaign"], f["start"], f["end"])
        return paginate(runs, f["page"]), f

    async def index(request: Request) -> Response:
        if isinstance(user := require(request), Response):
            return user
        return cached(request, user, lambda: index_page(request))

    def index_page(request: Request) -> Response:
        result = listing(request)
        if isinstance(result, Response):
            return result
        result_page, f = result
        query = {k: v for k, v in {"job": f["job"], "campaign": f["campaign"],
                                   "from": request.query_params.get("from", ""), "to": request.query_params.get("to", "")}.items() if v}
        jobs_seen = sorted({r.job for r in archive.runs()})
        return page(request, "archive.html.j2", result=result_page, filters=f, jobs_seen=jobs_seen,
                    query=query, urlencode=urlencode)

    async def api_runs(request: Request) -> Response:
        if isinstance(user := require(request, api=True), Response):
            return user
        return cached(request, user, lambda: api_runs_page(request))

    def api_runs_page(request: Request) -> Response:
        result = listing(request)
        if isinstance(result, Response):
            return result
        result_page, _f = result
        return JSONResponse({"page": result_page.page, "pages": result_page.pages, "total": result_page.total,
                             "runs": [asdict(r) for r in result_page.runs]})

    def find_run(request: Request) -> Any:
        p = request.path_params
        return archive.find(f"{p['job']}/{p['campaign']}/{p['period']}")

    async def report(request: Request) -> Response:
        if isinstance(user := require(request), Response):
            return user
        run = find_run(request)
        if run is None:
            return page(request, "missing.html.j2", status=404)
        return page(request, "report.html.j2", run=run)

    async def download(request: Request) -> Response:
        if isinstance(user := require(request), Response):
            return user
        run = find_run(request)
        name = request.path_params["name"]
        if run is None or name not in {a.name for a in run.artifacts}:
            return page(request, "missing.html.j2", status=404)
        path = run.path(archive.archive.root, name)
        suffix = Path(name).suffix.lower()
        inline = suffix == ".html" and request.query_params.get("download") != "1"
        headers = {"Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"'}
        if suffix == ".html":
            headers["Content-Security-Policy"] = REPORT_CSP
            headers["X-Frame-Options"] = "SAMEORIGIN"
        return FileResponse(path, media_type=CONTENT_TYPES.get(suffix, "application/octet-stream"), headers=headers)

    def history_rows(request: Request, user: User) -> tuple[str, list[Any]]:
        job = request.query_params.get("job") or ""
        operator = user.can_run and user.name != "anonymous"
        return job, visible_runs(history(job or None, 200), operator, bcc.get, archive.archive.root)

    async def history_page(request: Request) -> Response:
        if isinstance(user := require(request), Response):
            return user
        job, rows = history_rows(request, user)
        return page(request, "history.html.j2", runs=rows, job=job, message=request.session.pop("flash", None))

    async def api_history(request: Request) -> Response:
        if isinstance(user := require(request, api=True), Response):
            return user
        _job, rows = history_rows(request, user)
        out = []
        for row in rows:
            data = _jsonable(asdict(row))
            if row.recipients is None:
                del data["recipients"]
            out.append(data)
        return JSONResponse({"runs": out})

    async def jobs_page(request: Request) -> Response:
        if isinstance(user := require(request), Response):
            return user
        return page(request, "jobs.html.j2", jobs=jobs(), message=request.session.pop("flash", None))

    async def api_jobs(request: Request) -> Response:
        if isinstance(user := require(request, api=True), Response):
            return user
        return JSONResponse({"jobs": [_jsonable(j) for j in jobs()]})

    async def run_job_now(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return JSONResponse({"error": "authentication required"}, status_code=401)
        form = await request.form()
        if not csrf_ok(request, form):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        if not user.can_run or user.name == "anonymous":
            return JSONResponse({"error": "only operators may run jobs"}, status_code=403)
        name = request.path_params["name"]
        if name not in {j["name"] for j in jobs()}:
            return JSONResponse({"error": f"unknown job {name!r}"}, status_code=404)
        from starlette.concurrency import run_in_threadpool

        try:
            lines = await run_in_threadpool(run_now, name)
            message = "; ".join(lines) or f"{name}: no campaign to report on"
        except Exception as exc:  # noqa: BLE001 - shown to the operator, recorded in the run log
            message = f"{name}: failed: {exc}"
        # Through the session, not the URL: a link cannot make the page say anything.
        request.session["flash"] = redact_message(message, bcc.get(name), archive.archive.root)
        return RedirectResponse(f"/history?{urlencode({'job': name})}", status_code=303)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login.html.j2", next=request.query_params.get("next", "/"), error=None)
        form = await request.form()
        if not csrf_ok(request, form):
            return page(request, "login.html.j2", status=403, next="/", error="Your session expired; try again.")
        name, target = str(form.get("name", "")), str(form.get("next", "/"))
        address = request.client.host if request.client else "-"
        wait = throttle.acquire(name, address)
        if wait is not None:
            response = page(request, "login.html.j2", status=429, next=target,
                            error=f"Too many failed logins; try again in {_minutes(wait)}.")
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        user = None
        try:
            user = await asyncio.get_running_loop().run_in_executor(
                verifier, authenticate, users, name, str(form.get("password", "")))
        finally:
            throttle.release(name, address, ok=user is not None)
        if user is None:
            return page(request, "login.html.j2", status=401, next=target, error="Wrong name or password.")
        request.session.clear()
        request.session["login"] = sessions.issue(user.name).to_session()
        return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/", status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
        login = Login.from_session(request.session.get("login"))
        if login is not None and login.name in users and sessions.valid(login):
            sessions.revoke(login.name)  # this cookie, and any copy of it, is now refused
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    routes = [
        Route("/", index),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/reports/{job}/{campaign}/{period}", report),
        Route("/reports/{job}/{campaign}/{period}/{name}", download),
        Route("/history", history_page),
        Route("/jobs", jobs_page),
        Route("/jobs/{name}/run", run_job_now, methods=["POST"]),
        Route("/api/runs", api_runs),
        Route("/api/history", api_history),
        Route("/api/jobs", api_jobs),
    ]
    key = secret_key or secrets.token_urlsafe(32)
    # The cookie's own expiry is renewed by every response; the login's issue time inside it is not.
    middleware = [
        Middleware(SessionMiddleware, secret_key=key, session_cookie="reporter_session", same_site="strict",
                   https_only=False, max_age=int(sessions.lifetime_s)),
    ]
    return HeadedStarlette(routes=routes, middleware=middleware)


def _minutes(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes <= 1 else f"{minutes} minutes"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def build_app(settings: Any, engine: Any, config_path: Path | None, db_url: str) -> HeadedStarlette:
    """The app wired to the reporter: archive root, run log, configured jobs, run-now = `reporter run`."""
    import os

    from reporter.errors import UserError
    from reporter.history import job_overview, runs
    from reporter.jobs.runner import production_for, run_job

    secret = os.environ.get(settings.web.secret_key_env)
    if not secret and not settings.web.anonymous:
        raise UserError(f"web.secret_key_env: the environment variable {settings.web.secret_key_env} is not set "
                        "(it signs the session cookies; or set web.anonymous: true)")
    if secret is not None and len(secret) < 16:
        raise UserError(f"web.secret_key_env: {settings.web.secret_key_env} is too short (at least 16 characters)")

    def jobs() -> list[dict[str, Any]]:
        return job_overview(engine, settings, datetime.now(timezone.utc))

    def run_now(name: str) -> list[str]:
        job = settings.job(name)
        results = run_job(engine, settings, job, datetime.now(timezone.utc), production_for(settings, [job], check=True))
        return [r.message for r in results]

    sessions = SessionStore(engine, settings.web.session_hours * 3600, time.time)
    return create_app(settings, settings.archive.root, lambda job, limit: runs(engine, job, limit), jobs, run_now, secret,
                      sessions)

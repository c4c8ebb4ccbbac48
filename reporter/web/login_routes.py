"""Logging in and out.

Passwords are verified in a small thread pool, never in the event loop, and
failed logins are limited per user name and per client address.
"""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from reporter.web.access import csrf_ok
from reporter.web.auth import authenticate
from reporter.web.responses import page
from reporter.web.sessions import Login
from reporter.web.state import state_of


async def login(request: Request) -> Response:
    """The login form (GET) and a login attempt (POST): to ?next= on success, the form with a reason otherwise."""
    if request.method == "GET":
        return page(request, "login.html.j2", next=request.query_params.get("next", "/"), error=None)
    state = state_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return page(request, "login.html.j2", status=403, next="/", error="Your session expired; try again.")
    name, target = str(form.get("name", "")), str(form.get("next", "/"))
    address = request.client.host if request.client else "-"
    wait = state.throttle.acquire(name, address)
    if wait is not None:
        response = page(
            request,
            "login.html.j2",
            status=429,
            next=target,
            error=f"Too many failed logins; try again in {_minutes(wait)}.",
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    user = None
    try:
        user = await asyncio.get_running_loop().run_in_executor(
            state.verifier, authenticate, state.users, name, str(form.get("password", ""))
        )
    finally:
        state.throttle.release(name, address, ok=user is not None)
    if user is None:
        return page(request, "login.html.j2", status=401, next=target, error="Wrong name or password.")
    request.session.clear()
    request.session["login"] = state.sessions.issue(user.name).to_session()
    return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/", status_code=303)


async def logout(request: Request) -> Response:
    """End the session, and every copy of its cookie (a form with the CSRF token)."""
    state = state_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
    login = Login.from_session(request.session.get("login"))
    if login is not None and login.name in state.users and state.sessions.valid(login):
        state.sessions.revoke(login.name)  # this cookie, and any copy of it, is now refused
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _minutes(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes <= 1 else f"{minutes} minutes"

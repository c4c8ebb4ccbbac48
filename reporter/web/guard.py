"""The one login and role check in front of every protected handler: `@requires("viewer")`, `@requires("operator")`."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reporter.web.access import csrf_ok, current_user, is_operator
from reporter.web.auth import ROLES, User
from reporter.web.responses import page

Handler = Callable[[Request, User], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def requires(role: str, *, api: bool = False, csrf: bool = False) -> Callable[[Handler], Endpoint]:
    """Run the handler, given the user, only for a user of that role; otherwise refuse.

    Nobody logged in (and no anonymous browsing): the login page (401) or, for
    `api`, a JSON 401. Then, with `csrf`, a form without the session's token is
    a JSON 403, checked before the role; a viewer where an operator is needed,
    a JSON 403 too.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")

    def guard(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user = current_user(request)
            if user is None:
                if api:
                    return JSONResponse({"error": "authentication required"}, status_code=401)
                return page(request, "login.html.j2", status=401, next=request.url.path, error=None)
            if csrf and not csrf_ok(request, await request.form()):
                return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
            if role == "operator" and not is_operator(user):
                return JSONResponse({"error": "only operators may run jobs"}, status_code=403)
            return await handler(request, user)

        return endpoint

    return guard

"""What handlers answer with: HTML pages from the web templates, and JSON-ready values."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from reporter import __version__
from reporter.web.access import LazyToken, current_user
from reporter.web.state import state_of

log = logging.getLogger(__name__)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of templates/web/ with the user, the CSRF token, the version and the company in its context."""
    state = state_of(request)
    html = state.templates.get_template(f"web/{template}").render(
        user=current_user(request),
        csrf=LazyToken(request),
        version=__version__,
        request_path=request.url.path,
        company=state.settings.branding.company,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def jsonable(value: Any) -> Any:
    """The value with its datetimes as ISO 8601 UTC strings and its tuples as lists."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


async def archive_unavailable(request: Request, exc: Exception) -> Response:
    """503 while the archive cannot be read (an unreadable index, a missing root): the operator finds why in the log."""
    log.error("the archive cannot be read: %s", exc)
    if request.url.path.startswith("/api/"):
        response: Response = JSONResponse({"error": "the archive cannot be read at the moment"}, status_code=503)
    else:
        response = page(request, "unavailable.html.j2", status=503)
    response.headers["Retry-After"] = "60"
    return response

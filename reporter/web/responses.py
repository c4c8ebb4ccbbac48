"""What handlers answer with: HTML pages from the web templates, and JSON-ready values."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from reporter import __version__
from reporter.web.access import LazyToken, current_user
from reporter.web.state import state_of


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of templates/web/ with the user, the CSRF token, the version and the company in its context."""
    state = state_of(request)
    html = state.templates.get_template(f"web/{template}").render(
        user=current_user(request), csrf=LazyToken(request), version=__version__, request_path=request.url.path,
        company=state.settings.branding.company, **context)
    return HTMLResponse(html, status_code=status)


def jsonable(value: Any) -> Any:
    """The value with its datetimes as ISO 8601 UTC strings and its tuples as lists."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value

"""The archive page and /api/runs: archived runs filtered by job, campaign and dates, a page at a time."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reporter.web.auth import User
from reporter.web.guard import requires
from reporter.web.listing import Page, paginate
from reporter.web.responses import page
from reporter.web.state import state_of


@requires("viewer")
async def index(request: Request, user: User) -> Response:
    """The archive page."""
    return state_of(request).responses.get(request, user, lambda: _index_page(request))


@requires("viewer", api=True)
async def api_runs(request: Request, user: User) -> Response:
    """The archive page's runs as JSON."""
    return state_of(request).responses.get(request, user, lambda: _api_runs_page(request))


def _index_page(request: Request) -> Response:
    result = _listing(request)
    if isinstance(result, Response):
        return result
    result_page, f = result
    query = {
        k: v
        for k, v in {
            "job": f["job"],
            "campaign": f["campaign"],
            "from": request.query_params.get("from", ""),
            "to": request.query_params.get("to", ""),
        }.items()
        if v
    }
    jobs_seen = sorted({r.job for r in state_of(request).archive.runs()})
    return page(
        request, "archive.html.j2", result=result_page, filters=f, jobs_seen=jobs_seen, query=query, urlencode=urlencode
    )


def _api_runs_page(request: Request) -> Response:
    result = _listing(request)
    if isinstance(result, Response):
        return result
    result_page, _f = result
    return JSONResponse(
        {
            "page": result_page.page,
            "pages": result_page.pages,
            "total": result_page.total,
            "runs": [asdict(r) for r in result_page.runs],
        }
    )


def _listing(request: Request) -> tuple[Page, dict[str, Any]] | Response:
    f, error = _filters(request)
    if error:
        return JSONResponse({"error": error}, status_code=400)
    runs = state_of(request).archive.filtered(f["job"], f["campaign"], f["start"], f["end"])
    return paginate(runs, f["page"]), f


def _filters(request: Request) -> tuple[dict[str, Any], str | None]:
    q = request.query_params
    try:
        start = date.fromisoformat(q["from"]) if q.get("from") else None
        end = date.fromisoformat(q["to"]) if q.get("to") else None
        number = int(q.get("page", "1"))
    except ValueError as exc:
        return {}, f"bad filter: {exc}"
    return {
        "job": q.get("job", ""),
        "campaign": q.get("campaign", ""),
        "start": start,
        "end": end,
        "page": number,
    }, None

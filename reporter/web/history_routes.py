"""The history page and /api/history: the run log as the user's role may see it (reporter.web.history)."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reporter.web.access import is_operator
from reporter.web.auth import User
from reporter.web.guard import requires
from reporter.web.history import RunRow, visible_runs
from reporter.web.responses import jsonable, page
from reporter.web.state import state_of


@requires("viewer")
async def history_page(request: Request, user: User) -> Response:
    """The last runs, of one job with ?job=, and the message of a run-now just done."""
    job, rows = _history_rows(request, user)
    return page(request, "history.html.j2", runs=rows, job=job, message=request.session.pop("flash", None))


@requires("viewer", api=True)
async def api_history(request: Request, user: User) -> Response:
    """The history page's runs as JSON (no recipients key for viewers)."""
    _job, rows = _history_rows(request, user)
    out = []
    for row in rows:
        data = jsonable(asdict(row))
        if row.recipients is None:
            del data["recipients"]
        out.append(data)
    return JSONResponse({"runs": out})


def _history_rows(request: Request, user: User) -> tuple[str, list[RunRow]]:
    state = state_of(request)
    job = request.query_params.get("job") or ""
    return job, visible_runs(
        state.history(job or None, 200), is_operator(user), state.bcc.get, state.archive.archive.root
    )

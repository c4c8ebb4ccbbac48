"""The jobs page, /api/jobs, and run-now: an operator runs a job and reads its outcome on the history page."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from reporter.web.auth import User
from reporter.web.guard import requires
from reporter.web.history import redact_message
from reporter.web.responses import jsonable, page
from reporter.web.state import state_of


@requires("viewer")
async def jobs_page(request: Request, user: User) -> Response:
    """The configured jobs with their last and next runs."""
    return page(request, "jobs.html.j2", jobs=state_of(request).jobs(), message=request.session.pop("flash", None))


@requires("viewer", api=True)
async def api_jobs(request: Request, user: User) -> Response:
    """The jobs page's jobs as JSON."""
    return JSONResponse({"jobs": [jsonable(j) for j in state_of(request).jobs()]})


@requires("operator", api=True, csrf=True)
async def run_job_now(request: Request, user: User) -> Response:
    """Run a job now, then show its outcome on the history page.

    With `queue.url` the job's units go to the workers and the answer comes at once: 202 with the queued
    units for a client that asks for JSON, else the history page, where they show as queued, then their
    outcome. Without a queue the report is produced here (in a worker thread) before the answer.
    """
    state = state_of(request)
    name = request.path_params["name"]
    if name not in {j["name"] for j in state.jobs()}:
        return JSONResponse({"error": f"unknown job {name!r}"}, status_code=404)
    queued = state.settings.queue.configured

    def redact(text: str) -> str:  # no Bcc address, no server path
        return redact_message(text, state.bcc.get(name), state.archive.archive.root)

    try:
        lines = await run_in_threadpool(state.run_now, name)
        message = "; ".join(lines) or f"{name}: no campaign to report on"
    except Exception as exc:  # shown to the operator, recorded in the run log
        lines, message = [], f"{name}: failed: {exc}"
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": redact(message)}, status_code=500)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {"job": name, "units": [redact(line) for line in lines]}, status_code=202 if queued else 200
        )
    # Through the session, not the URL: a link cannot make the page say anything.
    request.session["flash"] = redact(message)
    return RedirectResponse(f"/history?{urlencode({'job': name})}", status_code=303)

"""A report's page and its files.

Files are found through the archive index only: a request names an indexed run
folder and a file of its manifest, never a path, so nothing outside the archive
root can be read. Archived HTML is served with a Content-Security-Policy that
forbids any fetch.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from reporter.delivery.archive import ArchivedRun
from reporter.web.auth import User
from reporter.web.guard import requires
from reporter.web.headers import REPORT_CSP
from reporter.web.responses import page
from reporter.web.state import state_of

CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@requires("viewer")
async def report(request: Request, user: User) -> Response:
    """A report's page: the archived HTML in a frame, links to its files."""
    run = _find_run(request)
    if run is None:
        return page(request, "missing.html.j2", status=404)
    return page(request, "report.html.j2", run=run)


@requires("viewer")
async def download(request: Request, user: User) -> Response:
    """A file of a report's manifest: HTML shown inline (unless ?download=1), anything else as an attachment."""
    run = _find_run(request)
    name = request.path_params["name"]
    if run is None or name not in {a.name for a in run.artifacts}:
        return page(request, "missing.html.j2", status=404)
    path = run.path(state_of(request).archive.archive.root, name)
    suffix = Path(name).suffix.lower()
    inline = suffix == ".html" and request.query_params.get("download") != "1"
    headers = {"Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"'}
    if suffix == ".html":
        headers["Content-Security-Policy"] = REPORT_CSP
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return FileResponse(path, media_type=CONTENT_TYPES.get(suffix, "application/octet-stream"), headers=headers)


def _find_run(request: Request) -> ArchivedRun | None:
    p = request.path_params
    return state_of(request).archive.find(f"{p['job']}/{p['campaign']}/{p['period']}")

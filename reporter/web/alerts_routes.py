"""The alerts page and /api/alerts: where each alert rule stands, and its newest changes (viewers may see them)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reporter.alerts.check import shown
from reporter.web.auth import User
from reporter.web.guard import requires
from reporter.web.responses import jsonable, page
from reporter.web.state import state_of

STATE_FIELDS = ("rule", "campaign_id", "grp", "state", "value", "since", "last_slot", "last_notified_at")
EVENT_FIELDS = ("rule", "campaign_id", "grp", "state", "value", "slot", "notice", "detail", "notified_at")


@requires("viewer")
async def alerts_page(request: Request, user: User) -> Response:
    """Each rule's states per campaign (and group), then the newest changes and notices."""
    states, events = state_of(request).alerts()
    metrics = {a.name: a.metric for a in state_of(request).settings.alerts}
    return page(
        request,
        "alerts.html.j2",
        states=states,
        events=events,
        shown=lambda rule, value: shown(metrics.get(rule, ""), value),
    )


@requires("viewer", api=True)
async def api_alerts(request: Request, user: User) -> Response:
    """The alerts page as JSON."""
    states, events = state_of(request).alerts()
    return JSONResponse(
        {
            "states": [jsonable({k: getattr(s, k) for k in STATE_FIELDS}) for s in states],
            "events": [jsonable({k: getattr(e, k) for k in EVENT_FIELDS}) for e in events],
        }
    )

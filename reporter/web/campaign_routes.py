"""The campaign pages: the campaigns with archived runs, and one campaign's runs over time.

Both read the archive index as the archive page does (CachedArchive) and keep their rendered responses until
it changes. A campaign id from the URL is only ever a key into the index: no path is built from it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from reporter.web.auth import User
from reporter.web.guard import requires
from reporter.web.listing import paginate
from reporter.web.responses import page
from reporter.web.state import state_of


@requires("viewer")
async def campaigns_page(request: Request, user: User) -> Response:
    """Every campaign with archived runs: name, id, number of runs, the latest run's period and time."""
    state = state_of(request)
    return state.responses.get(
        request, user, lambda: page(request, "campaigns.html.j2", campaigns=state.archive.campaigns())
    )


@requires("viewer")
async def campaign_page(request: Request, user: User) -> Response:
    """One campaign's archived runs, newest first, each with its files; an id not in the archive is a 404."""
    return state_of(request).responses.get(request, user, lambda: _campaign(request))


def _campaign(request: Request) -> Response:
    campaign_id = request.path_params["campaign_id"]
    campaign = state_of(request).archive.campaign(campaign_id)
    if campaign is None:
        return page(request, "campaign_missing.html.j2", status=404, campaign_id=campaign_id)
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 1  # a mangled page number shows the first page, as paginate does for one out of range
    return page(request, "campaign.html.j2", campaign=campaign, result=paginate(campaign.runs, number))

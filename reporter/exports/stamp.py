"""The time written into export files: fixed, so the same data gives the same bytes.

The writers take it as a parameter (no clock or environment inside them); a
caller that builds release artefacts passes `source_date(os.environ)`, which
honours SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

FIXED_TIME = datetime(1980, 1, 1, tzinfo=UTC)  # the earliest time a ZIP entry can carry


def source_date(environ: Mapping[str, str]) -> datetime:
    """SOURCE_DATE_EPOCH (seconds since 1970, UTC) when set to an integer, else FIXED_TIME."""
    value = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value.isdigit():
        return FIXED_TIME
    return max(datetime.fromtimestamp(int(value), UTC), FIXED_TIME)


def utc_naive(moment: datetime) -> datetime:
    """A moment as naive UTC (a naive one is taken as UTC already), no earlier than FIXED_TIME."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return max(moment.replace(tzinfo=None), FIXED_TIME.replace(tzinfo=None))

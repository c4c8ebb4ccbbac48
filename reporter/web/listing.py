"""The archive listing: filters, pagination and campaigns over the archive index (cached by its mtime)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reporter.delivery.archive import INDEX, Archive, ArchivedRun

PAGE_SIZE = 50


class CachedArchive:
    """The archive's index, parsed once per change of the file, not once per request."""

    def __init__(self, root: Path) -> None:
        self.archive = Archive(root)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._runs: list[ArchivedRun] = []
        self._by_folder: dict[str, ArchivedRun] = {}
        self._days: list[date] = []
        self._filtered: dict[tuple[Any, ...], list[ArchivedRun]] = {}
        self._campaigns: tuple[list[ArchivedRun], dict[str, list[ArchivedRun]]] = ([], {})

    def runs(self) -> list[ArchivedRun]:
        index = self.archive.root / INDEX
        try:
            stat = index.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        with self._lock:
            if stamp != self._stamp:
                self._runs = self.archive.runs() if stamp != (0, 0) else []
                self._by_folder = {r.folder: r for r in self._runs}
                self._days = [datetime.fromisoformat(r.generated_at).date() for r in self._runs]
                self._filtered = {}
                self._stamp = stamp
            return self._runs

    @property
    def stamp(self) -> tuple[int, int] | None:
        return self._stamp

    def filtered(
        self, job: str = "", campaign: str = "", start: date | None = None, end: date | None = None
    ) -> list[ArchivedRun]:
        """filter_runs over the index, remembered per filter until the index changes."""
        runs = self.runs()
        key = (job, campaign.lower(), start, end)
        with self._lock:
            cached = self._filtered.get(key)
            days = self._days
        if cached is None:
            cached = filter_runs(runs, job, campaign, start, end, days)
            with self._lock:
                if len(self._filtered) > 256:
                    self._filtered.clear()
                self._filtered[key] = cached
        return cached

    def campaigns(self) -> list[CampaignRuns]:
        """Every campaign with archived runs, the most recently reported first."""
        return [CampaignRuns.of(runs) for runs in self._by_campaign().values()]

    def campaign(self, campaign_id: str) -> CampaignRuns | None:
        """That campaign's runs (newest first), or None: the id is looked up in the index, never used as a path."""
        runs = self._by_campaign().get(campaign_id)
        return CampaignRuns.of(runs) if runs else None

    def _by_campaign(self) -> dict[str, list[ArchivedRun]]:
        runs = self.runs()
        with self._lock:
            # Grouped from this very list of runs, not one the index has replaced meanwhile.
            if self._campaigns[0] is not runs:
                self._campaigns = (runs, group_by_campaign(runs))
            return self._campaigns[1]

    def find(self, folder: str) -> ArchivedRun | None:
        """The run stored in that folder (as the index names it), or None: no path is built from the request."""
        self.runs()
        return self._by_folder.get(folder)


@dataclass(frozen=True)
class Page:
    runs: list[ArchivedRun]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class CampaignRuns:
    """A campaign's archived runs, newest first (never empty), under the name of its newest run."""

    campaign_id: str
    name: str
    runs: list[ArchivedRun]

    @classmethod
    def of(cls, runs: list[ArchivedRun]) -> CampaignRuns:
        return cls(runs[0].campaign_id, runs[0].campaign_name, runs)

    @property
    def latest(self) -> ArchivedRun:
        return self.runs[0]


def group_by_campaign(runs: list[ArchivedRun]) -> dict[str, list[ArchivedRun]]:
    """Runs (newest first) by campaign id, each campaign's newest first, in the order of their newest run."""
    grouped: dict[str, list[ArchivedRun]] = {}
    for run in runs:
        grouped.setdefault(run.campaign_id, []).append(run)
    return grouped


def filter_runs(
    runs: list[ArchivedRun],
    job: str = "",
    campaign: str = "",
    start: date | None = None,
    end: date | None = None,
    days: list[date] | None = None,
) -> list[ArchivedRun]:
    """Runs of a job, of a campaign (id or name, substring), generated within [start, end] (dates)."""
    if not (job or campaign or start or end):
        return runs
    needle = campaign.lower()
    out = []
    for i, run in enumerate(runs):
        if job and run.job != job:
            continue
        if needle and needle not in run.campaign_id.lower() and needle not in run.campaign_name.lower():
            continue
        if start or end:
            day = days[i] if days is not None else datetime.fromisoformat(run.generated_at).date()
            if (start and day < start) or (end and day > end):
                continue
        out.append(run)
    return out


def paginate(runs: list[ArchivedRun], page: int, size: int = PAGE_SIZE) -> Page:
    pages = max(1, -(-len(runs) // size))
    page = min(max(1, page), pages)
    return Page(runs[(page - 1) * size : page * size], page, pages, len(runs))

"""The report archive: <root>/<job>/<campaign>/<period>/ with the PDF, the HTML and a manifest.

Every name comes from data through `safe_name`, so no job, campaign or period
can escape the root. Files are written atomically (temporary file in the same
folder, fsync, rename). An index file at the root lists every stored run, so
listings never walk the tree; it is rewritten atomically under a lock, so
several processes can store at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from reporter.files import safe_name, write_atomic

log = logging.getLogger(__name__)

INDEX = "index.json"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Artifact:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ArchivedRun:
    """One stored run, as the index and its manifest describe it."""

    job: str
    campaign_id: str
    campaign_name: str
    period: str
    timezone: str
    generated_at: str
    folder: str  # relative to the root
    artifacts: tuple[Artifact, ...]

    def path(self, root: Path, name: str) -> Path:
        """The absolute path of one of the run's files (a name from its manifest only, inside the root)."""
        folder = inside(root, self.folder)
        if name not in {a.name for a in self.artifacts} or folder is None:
            raise FileNotFoundError(name)
        path = (folder / name).resolve()
        if not path.is_relative_to(folder):
            raise FileNotFoundError(name)
        return path


def inside(root: Path, relative: str) -> Path | None:
    """root/relative resolved, or None when it is the root itself or lies outside it (a tampered index)."""
    base = root.resolve()
    path = (base / relative).resolve()
    return path if path != base and path.is_relative_to(base) else None


def _from_dict(data: dict) -> ArchivedRun:
    return ArchivedRun(**{**data, "artifacts": tuple(Artifact(**a) for a in data["artifacts"])})


class Archive:
    """Stores and lists report runs under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def folder_for(self, job: str, campaign_id: str, period: str) -> Path:
        """The run's folder: always a descendant of the root, whatever the names contain."""
        folder = self.root / safe_name(job) / safe_name(campaign_id) / safe_name(period)
        if not folder.resolve().is_relative_to(self.root):
            raise ValueError(f"archive path escapes the root: {folder}")
        return folder

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".index.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_index(self) -> list[ArchivedRun]:
        try:
            data = json.loads((self.root / INDEX).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [_from_dict(item) for item in data["runs"]]

    def _write_index(self, runs: list[ArchivedRun]) -> None:
        runs = sorted(runs, key=lambda r: (r.generated_at, r.job, r.campaign_id, r.period), reverse=True)
        body = json.dumps({"runs": [asdict(r) for r in runs]}, ensure_ascii=False, indent=1)
        write_atomic(self.root / INDEX, body.encode("utf-8"))

    def store(
        self,
        job: str,
        campaign_id: str,
        campaign_name: str,
        period: str,
        timezone: str,
        generated_at: datetime,
        files: dict[str, bytes],
    ) -> ArchivedRun:
        """Write the run's files and manifest atomically and add it to the index (replacing a re-run)."""
        folder = self.folder_for(job, campaign_id, period)
        artifacts = []
        for name, data in files.items():
            if name != safe_name(name) or name == MANIFEST:
                raise ValueError(f"not a plain file name: {name!r}")
            write_atomic(folder / name, data)
            artifacts.append(Artifact(name, len(data), hashlib.sha256(data).hexdigest()))
        run = ArchivedRun(
            job=job, campaign_id=campaign_id, campaign_name=campaign_name, period=period, timezone=timezone,
            generated_at=generated_at.isoformat(), folder=str(folder.relative_to(self.root)), artifacts=tuple(artifacts),
        )
        write_atomic(folder / MANIFEST, json.dumps(asdict(run), ensure_ascii=False, indent=1).encode("utf-8"))
        with self._locked():
            runs = [r for r in self._read_index() if r.folder != run.folder]
            self._write_index([run, *runs])
        return run

    def runs(self) -> list[ArchivedRun]:
        """Every stored run, newest first (from the index, not the tree)."""
        return self._read_index()

    def apply_retention(self, now: datetime, keep_days: int = 0, keep_runs: int = 0) -> list[ArchivedRun]:
        """Delete runs older than keep_days and beyond the newest keep_runs per job and campaign.

        The newest run of every job is never deleted. Returns the deleted runs.
        """
        with self._locked():
            runs = self._read_index()
            newest_of_job: dict[str, ArchivedRun] = {}
            seen: dict[tuple[str, str], int] = {}
            keep, drop = [], []
            for run in runs:  # newest first
                newest_of_job.setdefault(run.job, run)
                rank = seen[(run.job, run.campaign_id)] = seen.get((run.job, run.campaign_id), 0) + 1
                too_old = keep_days > 0 and datetime.fromisoformat(run.generated_at) < now - timedelta(days=keep_days)
                too_many = keep_runs > 0 and rank > keep_runs
                if (too_old or too_many) and newest_of_job[run.job] is not run:
                    drop.append(run)
                else:
                    keep.append(run)
            self._write_index(keep)
        for run in drop:
            folder = inside(self.root, run.folder)
            if folder is None:
                log.warning("retention: skipped %r from the archive index: not a folder inside %s", run.folder, self.root)
                continue
            shutil.rmtree(folder, ignore_errors=True)
        return drop

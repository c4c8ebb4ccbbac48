"""The report archive: <root>/<job>/<campaign>/<period>/ with the PDF, the HTML and a manifest.

Every name comes from data through `safe_name`, so no job, campaign or period
can escape the root. A run is written whole into a hidden folder at the root
and renamed into place, so a failed store leaves nothing behind and a re-run
that fails keeps the previous run. An index file at the root lists every
stored run, so listings never walk the tree; it is rewritten atomically under
a lock, so several processes can store at once. The manifests are the truth:
an index that does not parse is kept aside and rebuilt from them. Files and
folders get the ordinary modes (0666 and 0777 less the umask).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reporter.errors import ArchiveError, ArchiveRootError
from reporter.files import safe_name

log = logging.getLogger(__name__)

INDEX = "index.json"
MANIFEST = "manifest.json"


class _DamagedIndex(Exception):
    def __init__(self, raw: bytes, problem: str) -> None:
        super().__init__(problem)
        self.raw = raw


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


def _run_from(data: object) -> ArchivedRun:
    """A run from its JSON form; ValueError when the shape is not the one the archive writes."""
    if not isinstance(data, dict) or not isinstance(data.get("artifacts"), list):
        raise ValueError("a run is not an object with a list of artifacts")
    try:
        run = ArchivedRun(**{**data, "artifacts": tuple(Artifact(**a) for a in data["artifacts"])})
    except TypeError as exc:
        raise ValueError(f"a run without the expected fields ({exc})") from exc
    texts = (
        run.job,
        run.campaign_id,
        run.campaign_name,
        run.period,
        run.timezone,
        run.generated_at,
        run.folder,
        *(a.name for a in run.artifacts),
    )
    if not all(isinstance(text, str) for text in texts):
        raise ValueError("a run field that is not text")
    datetime.fromisoformat(run.generated_at)
    return run


def _newest_first(runs: list[ArchivedRun]) -> list[ArchivedRun]:
    return sorted(runs, key=lambda r: (r.generated_at, r.job, r.campaign_id, r.period), reverse=True)


def _write_new(path: Path, data: bytes) -> None:
    """Create a file that must not exist yet, with the umask's mode (tempfile would give 0600), and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class Archive:
    """Stores and lists report runs under one root folder."""

    def __init__(self, root: Path | str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.root = Path(root).resolve()
        self.clock = clock

    def folder_for(self, job: str, campaign_id: str, period: str) -> Path:
        """The run's folder: always a descendant of the root, whatever the names contain."""
        folder = self.root / safe_name(job) / safe_name(campaign_id) / safe_name(period)
        if not folder.resolve().is_relative_to(self.root):
            raise ValueError(f"archive path escapes the root: {folder}")
        return folder

    @contextmanager
    def _locked(self) -> Iterator[None]:
        path = self.root / ".index.lock"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = open(path, "a+")  # noqa: SIM115 - held across the yield
        except OSError as exc:
            raise ArchiveError(path, f"cannot open the archive lock ({exc.strerror or exc})") from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_index(self) -> list[ArchivedRun]:
        """The index's runs: [] without one, _DamagedIndex when it does not parse, ArchiveError when unreadable."""
        path = self.root / INDEX
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ArchiveError(path, f"cannot read the archive index ({exc.strerror or exc})") from exc
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
                raise ValueError("not an object with a list of runs")
            return [_run_from(item) for item in data["runs"]]
        except (ValueError, RecursionError) as exc:
            raise _DamagedIndex(raw, str(exc) or type(exc).__name__) from exc

    def _index_for_update(self) -> list[ArchivedRun]:
        """The index's runs, under the lock; a damaged index is kept aside and rebuilt from the manifests."""
        try:
            return self._read_index()
        except _DamagedIndex as damaged:
            kept = self._keep_damaged(damaged.raw)
            runs = self._scan()
            log.warning(
                "archive index %s does not parse (%s): kept as %s, rebuilt from %d run manifests",
                self.root / INDEX,
                damaged,
                kept.name,
                len(runs),
            )
            return runs

    def _keep_damaged(self, raw: bytes) -> Path:
        stamp = self.clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        for n in range(1, 1000):
            path = self.root / f"{INDEX}.damaged-{stamp}{f'-{n}' if n > 1 else ''}"
            try:
                _write_new(path, raw)
                return path
            except FileExistsError:
                continue
            except OSError as exc:
                path.unlink(missing_ok=True)
                raise ArchiveError(path, f"cannot keep the damaged archive index ({exc.strerror or exc})") from exc
        raise ArchiveError(self.root / INDEX, "damaged, and too many damaged copies already kept beside it")

    def _write_index(self, runs: list[ArchivedRun]) -> list[ArchivedRun]:
        runs = _newest_first(runs)
        body = json.dumps({"runs": [asdict(r) for r in runs]}, ensure_ascii=False, indent=1)
        path = self.root / INDEX
        tmp = self.root / f".{INDEX}.{secrets.token_hex(8)}.tmp"
        try:
            _write_new(tmp, body.encode("utf-8"))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ArchiveError(path, f"cannot write the archive index ({exc.strerror or exc})") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return runs

    def _scan(self) -> list[ArchivedRun]:
        """Every run whose folder holds a manifest that parses, newest first; the others are logged and skipped."""
        runs = []
        for manifest in sorted(self.root.glob(f"*/*/*/{MANIFEST}")):
            relative = manifest.parent.relative_to(self.root)
            if any(part.startswith(".") for part in relative.parts):
                continue  # safe_name never starts a name with a dot: not a run folder
            if inside(self.root, str(relative / MANIFEST)) is None:
                log.warning("archive: skipped %s: it leads outside %s", manifest, self.root)
                continue
            try:
                data = json.loads(manifest.read_bytes().decode("utf-8"))
                run = _run_from({**data, "folder": str(relative)} if isinstance(data, dict) else data)
                if any(a.name != safe_name(a.name) or a.name == MANIFEST for a in run.artifacts):
                    raise ValueError("an artifact name that is not a plain file name")
            except (OSError, ValueError, RecursionError) as exc:
                log.warning("archive: skipped %s: %s", manifest, exc)
                continue
            runs.append(run)
        return _newest_first(runs)

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
        """Write the run's files and manifest and add it to the index (replacing a re-run), all or nothing."""
        folder = self.folder_for(job, campaign_id, period)
        for name in files:
            if name != safe_name(name) or name == MANIFEST:
                raise ValueError(f"not a plain file name: {name!r}")
        run = ArchivedRun(
            job=job,
            campaign_id=campaign_id,
            campaign_name=campaign_name,
            period=period,
            timezone=timezone,
            generated_at=generated_at.isoformat(),
            folder=str(folder.relative_to(self.root)),
            artifacts=tuple(
                Artifact(name, len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()
            ),
        )
        staging = self.root / f".store-{secrets.token_hex(8)}"
        _mkdir(self.root, parents=True)
        _mkdir(staging)
        try:
            contents = {**files, MANIFEST: json.dumps(asdict(run), ensure_ascii=False, indent=1).encode("utf-8")}
            for name, data in contents.items():
                try:
                    _write_new(staging / name, data)
                except OSError as exc:
                    raise ArchiveError(folder / name, f"cannot write ({exc.strerror or exc})") from exc
            with self._locked():
                runs = [r for r in self._index_for_update() if r.folder != run.folder]
                self._move_in(staging, folder, lambda: self._write_index([run, *runs]))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return run

    def _move_in(self, staging: Path, folder: Path, commit: Callable[[], object]) -> None:
        """Under the lock: rename the staged run into place and commit the index, or put everything back."""
        created: list[Path] = []
        for parent in reversed(folder.relative_to(self.root).parents[:-1]):
            path = self.root / parent
            if not path.is_dir():
                try:
                    _mkdir(path)
                except ArchiveError:
                    self._remove_empty(created)
                    raise
                created.append(path)
        previous = self.root / f".replaced-{secrets.token_hex(8)}" if os.path.lexists(folder) else None
        try:
            if previous is not None:
                os.rename(folder, previous)
            os.rename(staging, folder)
        except OSError as exc:
            if previous is not None and not os.path.lexists(folder):
                with suppress(OSError):
                    os.rename(previous, folder)
            self._remove_empty(created)
            raise ArchiveError(folder, f"cannot move the run into place ({exc.strerror or exc})") from exc
        try:
            commit()
        except BaseException:
            try:
                os.rename(folder, staging)  # the caller removes the staging folder
                if previous is not None:
                    os.rename(previous, folder)
            except OSError:
                log.exception("archive: could not put back %s after a failed store", folder)
            self._remove_empty(created)
            raise
        if previous is not None:
            _remove(previous)

    def _remove_empty(self, folders: list[Path]) -> None:
        for folder in reversed(folders):
            with suppress(OSError):
                folder.rmdir()

    def runs(self) -> list[ArchivedRun]:
        """Every stored run, newest first, from the index; from the manifests (read-only) when it does not parse."""
        try:
            return self._read_index()
        except _DamagedIndex as damaged:
            log.warning(
                "archive index %s does not parse (%s): runs listed from their manifests until the next "
                "store or `reporter archive reindex` rewrites it",
                self.root / INDEX,
                damaged,
            )
            return self._scan()

    def reindex(self) -> list[ArchivedRun]:
        """Rebuild the index from the run folders' manifests (a damaged index is kept aside); returns the runs."""
        if not self.root.exists():
            raise ArchiveRootError(self.root, "no such folder")
        if not self.root.is_dir():
            raise ArchiveRootError(self.root, "not a folder")
        with self._locked():
            try:
                self._read_index()
            except _DamagedIndex as damaged:
                kept = self._keep_damaged(damaged.raw)
                log.warning("archive index %s does not parse (%s): kept as %s", self.root / INDEX, damaged, kept.name)
            except ArchiveError:
                pass  # unreadable: nothing to keep; writing it over says what is wrong
            return self._write_index(self._scan())

    def apply_retention(self, now: datetime, keep_days: int = 0, keep_runs: int = 0) -> list[ArchivedRun]:
        """Delete runs older than keep_days and beyond the newest keep_runs per job and campaign.

        The newest run of every job is never deleted. Returns the deleted runs.
        """
        with self._locked():
            runs = self._index_for_update()
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
                log.warning(
                    "retention: skipped %r from the archive index: not a folder inside %s", run.folder, self.root
                )
                continue
            shutil.rmtree(folder, ignore_errors=True)
        return drop


def _mkdir(path: Path, parents: bool = False) -> None:
    try:
        path.mkdir(parents=parents, exist_ok=parents)
    except OSError as exc:
        raise ArchiveError(path, f"cannot create the archive folder ({exc.strerror or exc})") from exc


def _remove(path: Path) -> None:
    """Delete a folder this archive moved aside (a symlink or a file is unlinked, never followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()

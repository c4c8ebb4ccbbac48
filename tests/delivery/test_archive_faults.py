"""The archive when things fail: a damaged index, a store that fails half-way, file modes, `archive reindex`.

Every test works in its own tmp_path only. Write failures are real: a file-size
limit (RLIMIT_FSIZE) makes the kernel refuse a write with EFBIG, as a full disk
would with ENOSPC; a read-only folder would not do, the tests may run as root.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reporter.delivery.archive import Archive
from reporter.errors import ArchiveError, ArchiveRootError
from tests.web.conftest import hashes, login, make_client  # noqa: F401 - hashes is a fixture

T = datetime(2026, 11, 26, 7, tzinfo=UTC)
LIMIT = 64 * 1024


def store(
    archive: Archive,
    period: str = "2026-11-25",
    when: datetime = T,
    pdf: bytes = b"%PDF-1.7 x",
    html: bytes = b"<html></html>",
    name: str = "Campaign",
):
    return archive.store("daily", "c1", name, period, "UTC", when, {"c1.pdf": pdf, "c1.html": html})


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past `limit` bytes of any file fail with EFBIG (SIGXFSZ ignored, so the write returns the error)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# -- a damaged index ---------------------------------------------------------------------------

DAMAGES = [
    b'{"runs": [{"job": "daily", "campa',
    b"",
    b"\x00\xff\xfe garbage",
    b"[]",
    b'{"runs": 5}',
    b'{"runs": [{"job": "daily"}]}',
    b'{"runs": [{"job": 1, "campaign_id": "c1"}]}',
]


@pytest.mark.parametrize("damage", DAMAGES)
def test_store_rebuilds_an_index_that_does_not_parse_and_keeps_the_damaged_copy(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "archive"
    archive = Archive(root, clock=lambda: T)
    store(archive, "2026-11-23", T - timedelta(days=2))
    store(archive, "2026-11-24", T - timedelta(days=1))
    (root / "index.json").write_bytes(damage)
    store(archive, "2026-11-25", T)
    assert [r.period for r in Archive(root).runs()] == ["2026-11-25", "2026-11-24", "2026-11-23"]
    assert (root / "index.json.damaged-20261126T070000Z").read_bytes() == damage
    assert f"archive index {root / 'index.json'} does not parse" in caplog.text
    assert "index.json.damaged-20261126T070000Z" in caplog.text


def test_retention_rebuilds_a_damaged_index_too(tmp_path: Path) -> None:
    archive = Archive(tmp_path, clock=lambda: T)
    store(archive, "2026-01-01", T - timedelta(days=400))
    store(archive, "2026-11-25", T)
    (tmp_path / "index.json").write_bytes(b"{oops")
    assert [r.period for r in archive.apply_retention(T, keep_days=30)] == ["2026-01-01"]
    assert [r.period for r in archive.runs()] == ["2026-11-25"]
    assert not (tmp_path / "daily" / "c1" / "2026-01-01").exists()


def test_a_second_damage_in_the_same_second_keeps_both_copies(tmp_path: Path) -> None:
    archive = Archive(tmp_path, clock=lambda: T)
    store(archive)
    for damage in (b"first", b"second"):
        (tmp_path / "index.json").write_bytes(damage)
        store(archive)
    assert (tmp_path / "index.json.damaged-20261126T070000Z").read_bytes() == b"first"
    assert (tmp_path / "index.json.damaged-20261126T070000Z-2").read_bytes() == b"second"


def test_listing_a_damaged_index_reads_the_manifests_and_writes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archive = Archive(tmp_path)
    store(archive, "2026-11-24", T - timedelta(days=1))
    store(archive, "2026-11-25", T)
    (tmp_path / "index.json").write_bytes(b"\x00" * 100)
    before = files_under(tmp_path)
    runs = archive.runs()
    assert [r.period for r in runs] == ["2026-11-25", "2026-11-24"]
    assert runs[0].path(archive.root, "c1.pdf").read_bytes() == b"%PDF-1.7 x"
    assert files_under(tmp_path) == before
    assert f"archive index {tmp_path / 'index.json'} does not parse" in caplog.text


def test_web_listing_answers_from_the_manifests_when_the_index_is_damaged(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(tmp_path, demo_url, hashes, monkeypatch)
    (tmp_path / "archive" / "index.json").write_bytes(b'{"runs": [')
    login(client, "vera")
    data = client.get("/api/runs?job=daily").json()
    assert data["total"] == 30
    assert client.get("/").status_code == 200
    run = client.get("/api/runs?job=daily&campaign=campaign-1").json()["runs"][0]
    assert client.get(f"/reports/{run['folder']}/campaign-1.pdf").content.startswith(b"%PDF")


def test_an_unreadable_index_is_an_error_naming_it(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    store(archive)
    (tmp_path / "index.json").unlink()
    (tmp_path / "index.json").mkdir()  # a folder where the file should be
    with pytest.raises(ArchiveError, match=r"index\.json: cannot read the archive index"):
        store(archive, "2026-11-26")
    with pytest.raises(ArchiveError, match=r"index\.json: cannot read the archive index"):
        archive.runs()


def test_a_failed_index_write_is_an_error_naming_it_and_keeps_the_previous_run(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    big = "x" * (LIMIT * 2 // 3)  # a manifest fits under the limit, an index of two such runs does not
    for day in (23, 24, 25):
        store(archive, f"2026-11-{day}", T - timedelta(days=26 - day), name=big)
    before = files_under(tmp_path)
    with file_size_limit(LIMIT), pytest.raises(Exception) as failure:  # the type is what changed
        store(archive, "2026-11-25", T, pdf=b"%PDF-1.7 rerun")
    assert f"{tmp_path / 'index.json'}: cannot write the archive index" in str(failure.value)
    assert files_under(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".index.lock"]


# -- a store that fails half-way -----------------------------------------------------------------


def test_a_store_whose_second_file_fails_leaves_no_run_folder(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive = Archive(root)
    with file_size_limit(LIMIT), pytest.raises(Exception) as failure:  # the type is what changed
        store(archive, html=b"<html>" + b"x" * 2 * LIMIT)  # the PDF is written, the HTML hits the limit
    assert f"{root / 'daily' / 'c1' / '2026-11-25' / 'c1.html'}: cannot write" in str(failure.value)
    assert files_under(tmp_path) == {}
    assert not (root / "daily").exists()
    assert [p.name for p in root.iterdir()] == []
    assert archive.runs() == []


def test_a_failed_rerun_keeps_the_previous_run_whole(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = store(archive)
    before = files_under(tmp_path)
    with file_size_limit(LIMIT), pytest.raises(Exception):  # noqa: B017
        store(archive, when=T + timedelta(hours=1), pdf=b"%PDF-1.7 rerun", html=b"<html>" + b"x" * 2 * LIMIT)
    assert files_under(tmp_path) == before
    assert archive.runs() == [first]


def test_a_bad_file_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with pytest.raises(ValueError, match="not a plain file name"):
        archive.store("daily", "c1", "C", "2026-11-25", "UTC", T, {"c1.pdf": b"%PDF", "../c1.html": b"<html>"})
    assert files_under(tmp_path) == {}


def test_a_file_where_a_folder_should_be_fails_naming_it_and_leaves_nothing(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    (tmp_path / "daily").write_text("not a folder")
    with pytest.raises(ArchiveError, match="daily: cannot create the archive folder"):
        store(archive)
    assert files_under(tmp_path) == {"daily": b"not a folder", ".index.lock": b""}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".index.lock", "daily"]


# -- file modes ------------------------------------------------------------------------------------


def modes(root: Path) -> set[tuple[str, str, int]]:
    return {
        ("folder" if p.is_dir() else "file", str(p.relative_to(root)), stat.S_IMODE(p.stat().st_mode))
        for p in [root, *root.rglob("*")]
    }


@pytest.mark.parametrize(("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_archive_files_and_folders_get_the_umask_modes(
    tmp_path: Path, mask: int, file_mode: int, folder_mode: int
) -> None:
    root = tmp_path / "archive"
    with umask(mask):
        archive = Archive(root, clock=lambda: T)
        store(archive, "2026-11-24")
        store(archive, "2026-11-24", T + timedelta(hours=1))  # a re-run replaces the folder
        found = modes(root)
        assert {path for _, path, _ in found} >= {
            "index.json",
            "daily/c1/2026-11-24/c1.pdf",
            "daily/c1/2026-11-24/manifest.json",
        }
        assert found == {(kind, path, file_mode if kind == "file" else folder_mode) for kind, path, _ in found}
        (root / "index.json").write_bytes(b"damaged")
        store(archive, "2026-11-25")
        archive.reindex()
        found = modes(root)
        assert "index.json.damaged-20261126T070000Z" in {path for _, path, _ in found}
        assert found == {(kind, path, file_mode if kind == "file" else folder_mode) for kind, path, _ in found}


# -- reindex ---------------------------------------------------------------------------------------


def test_reindex_rebuilds_from_the_manifests_and_skips_what_is_not_a_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, outside = tmp_path / "archive", tmp_path / "outside"
    archive = Archive(root, clock=lambda: T)
    store(archive, "2026-11-24", T - timedelta(days=1))
    store(archive, "2026-11-25", T)
    (root / "index.json").write_bytes(b"{damaged")
    broken = root / "daily" / "c2" / "2026-11-25"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    escaping = root / "daily" / "c3" / "2026-11-25"
    escaping.mkdir(parents=True)
    (escaping / "manifest.json").write_text(
        json.dumps(
            {
                "job": "daily",
                "campaign_id": "c3",
                "campaign_name": "C",
                "period": "2026-11-25",
                "timezone": "UTC",
                "generated_at": T.isoformat(),
                "folder": "x",
                "artifacts": [{"name": "../../../../etc/passwd", "size": 1, "sha256": ""}],
            }
        )
    )
    (outside / "c4" / "2026-11-25").mkdir(parents=True)
    (outside / "c4" / "2026-11-25" / "manifest.json").write_bytes(
        (root / "daily" / "c1" / "2026-11-25" / "manifest.json").read_bytes()
    )
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / ".store-0123456789abcdef" / "c1" / "2026-11-25").mkdir(parents=True)  # a store killed with -9
    (root / ".store-0123456789abcdef" / "c1" / "2026-11-25" / "manifest.json").write_text("{}")

    runs = archive.reindex()

    assert [r.folder for r in runs] == ["daily/c1/2026-11-25", "daily/c1/2026-11-24"]
    assert Archive(root).runs() == runs
    assert (root / "index.json.damaged-20261126T070000Z").read_bytes() == b"{damaged"
    assert f"skipped {broken / 'manifest.json'}" in caplog.text
    assert f"skipped {escaping / 'manifest.json'}: an artifact name that is not a plain file name" in caplog.text
    assert f"skipped {root / 'linked' / 'c4' / '2026-11-25' / 'manifest.json'}: it leads outside" in caplog.text
    assert (outside / "c4" / "2026-11-25" / "manifest.json").exists()


def test_reindex_of_a_missing_root_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveRootError, match="no such folder"):
        Archive(tmp_path / "missing").reindex()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArchiveRootError, match="not a folder"):
        Archive(tmp_path / "file").reindex()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def reporter(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=120
    )


def test_cli_reindex_prints_the_count_and_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive = Archive(root)
    for day in (23, 24, 25):
        store(archive, f"2026-11-{day}", T - timedelta(days=26 - day))
    (root / "index.json").write_bytes(b"\x00")
    config = tmp_path / "reporter.yaml"
    config.write_text(f"archive:\n  root: {root}\n")
    result = reporter(["--config", str(config), "archive", "reindex"], tmp_path)
    assert (result.returncode, result.stdout) == (0, f"indexed 3 runs in {root}\n")
    assert "does not parse" in result.stderr
    assert len(Archive(root).runs()) == 3
    result = reporter(["archive", "reindex", "--archive", "archive"], tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"indexed 3 runs in {root}\n", "")


def test_cli_reindex_of_a_bad_root_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = reporter(["archive", "reindex", "--archive", str(tmp_path / "missing")], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: --archive: {tmp_path / 'missing'}: no such folder"]
    assert not (tmp_path / "missing").exists()
    config = tmp_path / "reporter.yaml"
    config.write_text(f"archive:\n  root: {tmp_path / 'gone'}\n")
    result = reporter(["--config", str(config), "archive", "reindex"], tmp_path)
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        [f"error: archive root {tmp_path / 'gone'}: no such folder (set archive.root in the config)"],
    )

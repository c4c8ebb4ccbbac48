"""The archive: layout, atomic writes under a crash, names from data, retention, the index."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reporter.delivery.archive import Archive
from reporter.files import write_atomic

T = datetime(2026, 11, 26, 7, tzinfo=UTC)
SHA_OF_PDF = "ec2792f52c4416be86b9c3d9f4ce1122e68027a8549c54be5040c913d671aa02"


def store(archive: Archive, job: str = "daily", cid: str = "c1", period: str = "2026-11-25", when: datetime = T):
    return archive.store(
        job, cid, "Campaign", period, "UTC", when, {"c1.pdf": b"%PDF-1.7 x", "c1.html": b"<html></html>"}
    )


def test_layout_manifest_and_index(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    run = store(archive)
    folder = tmp_path / "daily" / "c1" / "2026-11-25"
    assert sorted(p.name for p in folder.iterdir()) == ["c1.html", "c1.pdf", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["campaign_id"] == "c1" and manifest["period"] == "2026-11-25" and manifest["timezone"] == "UTC"
    assert manifest["generated_at"] == T.isoformat()
    pdf = next(a for a in manifest["artifacts"] if a["name"] == "c1.pdf")
    # sha256 of b"%PDF-1.7 x", computed independently with `printf '%PDF-1.7 x' | sha256sum`
    assert pdf == {"name": "c1.pdf", "size": 10, "sha256": SHA_OF_PDF}
    assert archive.runs() == [run]


@pytest.mark.parametrize("cid", ["../../etc", "/etc/passwd", "a/b/c", "..", ".", "x\x00y", "%2e%2e", "C:\\Windows"])
def test_names_from_data_cannot_escape_the_root(tmp_path: Path, cid: str) -> None:
    root = tmp_path / "archive"
    archive = Archive(root)
    run = store(archive, job="../jobs", cid=cid, period="../../p")
    for artifact in run.artifacts:
        path = run.path(archive.root, artifact.name).resolve()
        assert path.is_relative_to(root.resolve())
    assert not (tmp_path / "etc").exists()
    assert {p.resolve().is_relative_to(root.resolve()) for p in tmp_path.rglob("*") if p.is_file()} == {True}


def test_two_ids_that_clean_up_alike_get_different_folders(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    assert store(archive, cid="a/b").folder != store(archive, cid="a?b").folder


def test_crash_between_write_and_rename_leaves_no_visible_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.pdf"

    def crash(*_args: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        write_atomic(target, b"%PDF" + b"x" * 10_000)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_crash_keeps_the_previous_version_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.pdf"
    write_atomic(target, b"old version")
    monkeypatch.setattr(os, "replace", lambda *_a: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        write_atomic(target, b"new version")
    assert target.read_bytes() == b"old version"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_retention_by_days_keeps_the_newest_run_of_each_job(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    store(archive, job="daily", period="2026-01-01", when=T - timedelta(days=400))
    store(archive, job="daily", period="2026-11-20", when=T - timedelta(days=5))
    store(archive, job="yearly", period="2025", when=T - timedelta(days=500))  # old, but the newest of its job
    deleted = archive.apply_retention(T, keep_days=30)
    assert [(r.job, r.period) for r in deleted] == [("daily", "2026-01-01")]
    assert not (tmp_path / "daily" / "c1" / "2026-01-01").exists()
    assert sorted((r.job, r.period) for r in archive.runs()) == [("daily", "2026-11-20"), ("yearly", "2025")]


def test_retention_by_runs_keeps_the_newest(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    for day in range(1, 6):
        store(archive, period=f"2026-11-0{day}", when=T - timedelta(days=10 - day))
    archive.apply_retention(T, keep_runs=2)
    assert [r.period for r in archive.runs()] == ["2026-11-05", "2026-11-04"]
    assert sorted(p.name for p in (tmp_path / "daily" / "c1").iterdir()) == ["2026-11-04", "2026-11-05"]


def test_a_rerun_replaces_its_index_entry(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    store(archive, when=T - timedelta(hours=1))
    store(archive, when=T)
    assert [r.generated_at for r in archive.runs()] == [T.isoformat()]


def test_path_only_serves_files_of_the_manifest(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    run = store(archive)
    with pytest.raises(FileNotFoundError):
        run.path(archive.root, "../../../etc/passwd")


# Every escape points into this test's own tmp_path: a regression must never reach a real folder.
@pytest.mark.parametrize("folder", ["../../victim", "{victim}", "{victim}/../victim", ".", "daily/../../../victim"])
def test_retention_never_deletes_outside_the_archive(
    tmp_path: Path, folder: str, caplog: pytest.LogCaptureFixture
) -> None:
    root, victim = tmp_path / "archive" / "inner", tmp_path / "victim"
    folder = folder.format(victim=victim)
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    archive = Archive(root)
    store(archive, period="2026-11-01", when=T - timedelta(days=400))
    store(archive, period="2026-11-20", when=T)
    index = json.loads((root / "index.json").read_text())
    old = (
        next(r for r in index["runs"] if r["period"] == "2026-11-01")
        if isinstance(index, dict)
        else next(r for r in index if r["period"] == "2026-11-01")
    )
    old["folder"] = folder
    (root / "index.json").write_text(json.dumps(index))
    archive.apply_retention(T, keep_days=30)
    assert (victim / "keep.txt").read_text() == "precious"
    assert root.exists() and (root / "daily" / "c1" / "2026-11-20").exists()
    assert "not a folder inside" in caplog.text
    run = next(r for r in Archive(root).runs() if r.period == "2026-11-20")
    assert run.path(root, run.artifacts[0].name).is_file()

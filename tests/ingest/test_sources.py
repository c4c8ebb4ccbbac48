"""Reading data files: CSV and JSON Lines, gzip, files that cannot be read, the temporary rejects file."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reporter.errors import InputFileError
from reporter.ingest import load_campaigns, load_events
from tests.ingest.helpers import HEADER, count_events


def test_jsonl_and_gzip_events_load(loaded: Engine, tmp_path: Path) -> None:
    records = [
        {"event_id": "j1", "campaign_id": "c-single", "user_id": "u1", "event": "sent", "ts": "2026-11-02T10:00:00Z"},
        {"event_id": "j2", "campaign_id": "c-single", "user_id": "u1", "event": "click", "ts": "2026-11-02T10:05:00Z"},
    ]
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    summary = load_events(loaded, path)
    assert (summary.loaded, summary.rejected) == (2, 0)
    plain = tmp_path / "more.jsonl"
    plain.write_text(json.dumps({**records[0], "event_id": "j3"}) + "\n")
    assert load_events(loaded, plain).loaded == 1
    assert count_events(loaded) == 3


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("event_id,campaign,user_id,event,ts\n", "wrong header: unknown column 'campaign'"),
        ("event_id,campaign_id,user_id,event\n", "wrong header: missing column 'ts'"),
        ("", "is empty (expected a CSV header line)"),
    ],
)
def test_unreadable_csv_stops_before_storing_anything(
    loaded: Engine, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(content + "e1,c-single,u1,sent,2026-11-02T10:00:00Z\n" if content else "")
    with pytest.raises(InputFileError) as info:
        load_events(loaded, path)
    assert info.value.problem == problem
    assert count_events(loaded) == 0


def test_not_jsonl_and_not_gzip_are_file_errors(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("this is not json\n")
    with pytest.raises(InputFileError, match="not a JSON Lines file"):
        load_events(loaded, path)
    gz = tmp_path / "events.csv.gz"
    gz.write_text(HEADER)
    with pytest.raises(InputFileError, match="cannot be read"):
        load_events(loaded, gz)
    with pytest.raises(InputFileError, match="unknown file type"):
        load_events(loaded, tmp_path / "events.parquet")


def test_a_killed_load_leaves_no_temporary_rejects_file_behind(sqlite_engine: Engine, tmp_path: Path) -> None:
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(
        json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n"
    )
    load_campaigns(sqlite_engine, campaigns)
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"campaign_id": "c", "user_id": "u1", "event": "sent", "ts": "2026-11-02T00:00:00Z"}\nnot json\n'
    )
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs, as a load killed with -9 leaves behind
    orphan = tmp_path / f"e.jsonl.rejects.jsonl.{dead.pid}.tmp"
    orphan.write_text("half written\n")
    summary = load_events(sqlite_engine, events)
    assert summary.rejected == 1
    assert not orphan.exists()


def test_a_json_list_as_json_dump_writes_it_loads(sqlite_engine: Engine, tmp_path: Path) -> None:
    """json.dump escapes an emoji as a surrogate pair (\\ud83c\\udf81), which YAML refuses; JSON's parser reads it."""
    from reporter.db import upgrade

    upgrade(sqlite_engine)
    path = tmp_path / "campaigns.json"
    records = [
        {"campaign_id": "gift", "name": "Gift 🎁 — sale", "type": "single", "start_at": "2026-10-01T00:00:00Z"},
        {"campaign_id": "bad", "name": "Bad", "type": "triple", "start_at": "2026-10-01T00:00:00Z"},
        "not an object",
    ]
    path.write_text(json.dumps(records, indent=2))
    assert "\\ud83c\\udf81" in path.read_text()
    summary = load_campaigns(sqlite_engine, path)
    assert (summary.loaded, summary.rejected) == (1, 2)
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM campaigns").scalar_one() == "Gift 🎁 — sale"
    rejects = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert [r["line"] for r in rejects] == [8, 14]  # where each record starts in the file
    path.write_text('[{"campaign_id": "x"} {"campaign_id": "y"}]')
    with pytest.raises(InputFileError, match="not valid JSON: expected , or \\] at line 1"):
        load_campaigns(sqlite_engine, path)


def test_bytes_used_leave_out_what_gzip_read_ahead(tmp_path: Path) -> None:
    """A load estimates a file's events from the bytes its first batch used: a gzip file's read-ahead (1 MB,
    many times the text used) made 600,000 events look like 230,000."""
    import random

    from reporter.ingest.sources import DataFile

    rng = random.Random(7)
    lines = [f"e{i},c,,u{rng.randrange(10**6)},,sent,2026-11-02T00:00:{i % 60:02d}Z,,,,,\n" for i in range(200_000)]
    for name, opener in (("e.csv", open), ("e.csv.gz", gzip.open)):
        with opener(tmp_path / name, "wt") as f:
            f.write("".join(lines))
        with DataFile(tmp_path / name) as data:
            for _ in range(20_000):
                data.text.readline()
            estimate = 20_000 * data.size // data.bytes_used
        assert 180_000 < estimate < 220_000, (name, estimate)

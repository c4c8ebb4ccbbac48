"""Whole loads: interrupted and re-run, two at once, and flat memory for ten times the events."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from reporter.ingest import load_campaigns, load_events
from reporter.models import Event
from tests.ingest.helpers import DATA, HEADER, count_events, write_events_csv


def test_interrupted_load_keeps_whole_batches_and_a_rerun_completes(loaded: Engine, tmp_path: Path) -> None:
    rows = [f"i{n},c-single,,u{n},,sent,2026-11-02T10:00:00Z,,,,," for n in range(1, 26)]
    path = write_events_csv(tmp_path / "events.csv", rows)

    class Crash(Exception):
        pass

    def crash_after_two(loaded_so_far: int, _dups: int) -> None:
        if loaded_so_far >= 20:
            raise Crash

    with pytest.raises(Crash):
        load_events(loaded, path, batch_size=10, on_batch=crash_after_two)
    # Whole batches: the two reported, and the third if it was being stored when the caller's thread failed.
    stored = count_events(loaded)
    assert stored in (20, 25)
    summary = load_events(loaded, path, batch_size=10)
    assert (summary.loaded, summary.duplicates) == (25 - stored, stored)
    with loaded.connect() as conn:
        ids = conn.execute(select(Event.event_id)).scalars().all()
    assert sorted(ids) == sorted(f"i{n}" for n in range(1, 26))


def test_two_concurrent_loads_of_one_file_both_succeed_without_duplicates(db_url: str, tmp_path: Path) -> None:
    from reporter.db import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(
        json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n"
    )
    load_campaigns(engine, campaigns)
    events = tmp_path / "e.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"e{i}",
                    "campaign_id": "c",
                    "user_id": f"u{i % 500}",
                    "event": "sent",
                    "ts": f"2026-11-02T{i % 24:02d}:00:00Z",
                }
            )
            + "\n"
            for i in range(20_000)
        )
    )
    env = {**os.environ, "REPORTER_DATABASE_URL": db_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "reporter", "load", "events", str(events)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events").one() == (20_000, 20_000)
    engine.dispose()


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, tracemalloc
    from pathlib import Path
    from reporter.db import make_engine, upgrade
    from reporter.ingest import load_campaigns, load_events
    engine = make_engine(sys.argv[1]); upgrade(engine)
    load_campaigns(engine, Path(sys.argv[2]))
    tracemalloc.start()
    # Batches of 2,000: both files fill the pipeline (a batch stored, one staged, one read).
    summary = load_events(engine, Path(sys.argv[3]), batch_size=2_000)
    python_peak = tracemalloc.get_traced_memory()[1] // 2**20
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest, large by now).
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(summary.loaded, python_peak, hwm // 1024)
    """
)


def _big_events_file(path: Path, n: int) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        f.write(HEADER)
        kinds = ("sent", "impression", "click")
        for i in range(n):
            f.write(f"m{i},c-single,,u{i // 3},,{kinds[i % 3]},2026-11-02T10:{i % 60:02d}:00Z,android,phone,,,\n")
    return path


@pytest.mark.slow
def test_ten_times_the_events_load_with_flat_memory(tmp_path: Path) -> None:
    """10,000 and 100,000 events here; bench/bench_load_memory.py runs 100,000 and 1,000,000."""
    peaks = {}
    for n in (10_000, 100_000):
        events = _big_events_file(tmp_path / f"events-{n}.csv.gz", n)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_SCRIPT,
                f"sqlite:///{tmp_path / f'm{n}.db'}",
                str(DATA / "campaigns.csv"),
                str(events),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert int(out[0]) == n
        peaks[n] = (int(out[1]), int(out[2]))
    # Ten times the events, the same peak of Python objects: the loader streams.
    assert peaks[100_000][0] <= peaks[10_000][0] + 2, peaks
    # The process as a whole stays bounded (SQLite's page cache is capped at 64 MB).
    assert peaks[100_000][1] < 250, peaks

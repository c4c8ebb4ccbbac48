"""Loading speed: `reporter load events` in events per second, and where its time goes.

    python bench/bench_load.py [--users 25000] [--repeat 3] [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

Writes the demo generator's campaigns and events as files (--users 25,000:
237,601 events, CSV, 12 columns), then for SQLite (and PostgreSQL with
--postgres, each run in a fresh database made for it) runs `reporter load
events` in a fresh process --repeat times into a fresh database, and prints
the median wall time, events per second and the process's peak memory. Then,
in this process, the three parts of a load apart: reading the file into
records, validating them, and the database's own storing of the validated
rows (one prepared executemany per batch on SQLite, COPY on PostgreSQL,
nothing of Python per row but the driver's): the last is the ceiling no
loader in front of that database and schema can pass.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.bench_vs_pandas import timed  # noqa: E402
from reporter.db import make_engine, upgrade  # noqa: E402
from reporter.demo import campaign_records, event_records  # noqa: E402
from reporter.ingest.load import _records, load_campaigns  # noqa: E402
from reporter.ingest.parse import EVENT_FIELDS, EVENT_REQUIRED, header_checker, parse_event  # noqa: E402
from reporter.ingest.sources import DataFile  # noqa: E402
from reporter.ingest.store import BATCH_SIZE, _insert_events, campaign_refs  # noqa: E402


def write_files(folder: Path, users: int) -> tuple[Path, Path, int]:
    campaigns = folder / "campaigns.jsonl"
    campaigns.write_text("".join(json.dumps(c) + "\n" for c in campaign_records()))
    events = folder / "events.csv"
    count = 0
    with events.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(EVENT_FIELDS))
        writer.writeheader()
        for record in event_records(users, 1):
            writer.writerow(record)
            count += 1
    return campaigns, events, count


def fresh_databases(kind: str, postgres: str | None, folder: Path) -> Iterator[str]:
    """URLs of empty databases, one per call, dropped afterwards (PostgreSQL)."""
    n = 0
    while True:
        n += 1
        if kind == "sqlite":
            yield f"sqlite:///{folder}/load-{n}.db"
            continue
        assert postgres is not None
        name = f"bench_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield postgres.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()


def timed_load(url: str, campaigns: Path, events: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `reporter load events` in a fresh process (campaigns loaded first)."""
    env = {**os.environ, "REPORTER_DATABASE_URL": url}
    for command in (["db", "upgrade"], ["load", "campaigns", str(campaigns)]):
        made = subprocess.run(
            [sys.executable, "-m", "reporter", *command], env=env, capture_output=True, text=True, cwd=ROOT
        )
        if made.returncode != 0:
            raise SystemExit(f"reporter {' '.join(command)} failed: {made.stderr.strip()}")
    return timed([sys.executable, "-m", "reporter", "load", "events", str(events)], env)


def parts(url: str, campaigns: Path, events: Path) -> tuple[float, float, float, int]:
    """Seconds to read the file's records, to validate them, and for the database to store the valid rows."""
    engine = make_engine(url)
    upgrade(engine)
    load_campaigns(engine, campaigns)
    refs = campaign_refs(engine)
    t0 = time.perf_counter()
    with DataFile(events) as data:
        records = [r.fields for r in _records(data, "csv", header_checker(events, EVENT_FIELDS, EVENT_REQUIRED))]
    t1 = time.perf_counter()
    rows = [parse_event(r, refs) for r in records if r is not None]
    t2 = time.perf_counter()
    del records
    for i in range(0, len(rows), BATCH_SIZE):
        with engine.begin() as conn:
            _insert_events(conn, rows[i : i + BATCH_SIZE])
    t3 = time.perf_counter()
    engine.dispose()
    return t1 - t0, t2 - t1, t3 - t2, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create and drop databases")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        campaigns, events, count = write_files(folder, args.users)
        print(f"{count:,} events, {events.stat().st_size / 1e6:.1f} MB of CSV")
        for kind in kinds:
            urls = fresh_databases(kind, args.postgres, folder)
            runs = []
            for _ in range(args.repeat):
                runs.append(timed_load(next(urls), campaigns, events))
            wall = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(
                f"{kind:<10} reporter load events: {wall:.2f} s (median of {args.repeat}), "
                f"{count / wall:,.0f} events/s, peak {peak:.0f} MB"
            )
            read, validate, store, stored = parts(next(urls), campaigns, events)
            urls.close()
            print(
                f"{kind:<10} apart, in one process: reading {read:.2f} s ({count / read:,.0f}/s), "
                f"validating {validate:.2f} s ({count / validate:,.0f}/s), "
                f"storing {store:.2f} s ({stored / store:,.0f}/s: the database's ceiling)"
            )


if __name__ == "__main__":
    main()

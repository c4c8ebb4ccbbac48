"""Loading speed: `reporter load events` in events per second, and where its time goes.

    python bench/bench_load.py [--users 25000] [--repeat 3] [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

Writes the demo generator's campaigns and events as files (--users 25,000:
237,601 events, CSV, 12 columns), then for SQLite (and PostgreSQL with
--postgres, each run in a fresh database made for it) runs `reporter load
events` in a fresh process --repeat times into a fresh database, and prints
the median wall time, events per second and the process's peak memory. Then,
in this process, the three parts of a load apart: reading the file's lines
in blocks, validating the blocks (a column at a time), and storing the
valid rows as the loader does (each batch into a stage, then into the
events table in one statement on a thread of its own): the last is the
ceiling of the loader with reading and validating taking no time.
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
from reporter.ingest.blocks import Combinations, block_rows  # noqa: E402
from reporter.ingest.load import load_campaigns  # noqa: E402
from reporter.ingest.parse import EVENT_FIELDS, EVENT_REQUIRED, header_checker  # noqa: E402
from reporter.ingest.sources import DataFile, csv_blocks  # noqa: E402
from reporter.ingest.store import BATCH_SIZE, Batch, campaign_refs, store_batches  # noqa: E402


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


def timed_load(url: str, campaigns: Path, events: Path, root: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `reporter load events` in a fresh process (campaigns loaded first),
    by the code in `root` (a checkout of another commit for --baseline)."""
    env = {**os.environ, "REPORTER_DATABASE_URL": url, "PYTHONPATH": str(root)}
    for command in (["db", "upgrade"], ["load", "campaigns", str(campaigns)]):
        made = subprocess.run(
            [sys.executable, "-m", "reporter", *command], env=env, capture_output=True, text=True, cwd=root
        )
        if made.returncode != 0:
            raise SystemExit(f"reporter {' '.join(command)} failed: {made.stderr.strip()}")
    return timed([sys.executable, "-m", "reporter", "load", "events", str(events)], env, cwd=root)


def checkout(rev: str, folder: Path) -> Path:
    """A work tree of commit `rev` (its bytecode compiled, as ours is), for the baseline's loads."""
    tree = folder / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "reporter")], check=True)
    return tree


def parts(url: str, campaigns: Path, events: Path) -> tuple[float, float, float, int]:
    """Seconds to read the file's lines in blocks, to validate the blocks, and to store the valid rows (the
    loader's stage and merge, with nothing of reading or validating beside them)."""
    engine = make_engine(url)
    upgrade(engine)
    load_campaigns(engine, campaigns)
    refs = campaign_refs(engine)
    t0 = time.perf_counter()
    with DataFile(events) as data:
        blocks = list(csv_blocks(data, header_checker(events, EVENT_FIELDS, EVENT_REQUIRED)))
    t1 = time.perf_counter()
    known = Combinations()
    rows = [row for header, _, lines in blocks for row in block_rows(header, lines, refs, known) or ()]
    t2 = time.perf_counter()
    del blocks
    batches = []
    for i in range(0, len(rows), BATCH_SIZE):
        batch = Batch(known)
        batch.add(rows[i : i + BATCH_SIZE], None)
        batches.append(batch)
    t3 = time.perf_counter()
    store_batches(engine, batches)
    t4 = time.perf_counter()
    engine.dispose()
    return t1 - t0, t2 - t1, t4 - t3, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose server may create and drop databases")
    parser.add_argument("--baseline", metavar="REV", help="also load by this commit's code, runs alternating")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        campaigns, events, count = write_files(folder, args.users)
        print(f"{count:,} events, {events.stat().st_size / 1e6:.1f} MB of CSV")
        trees = {"this code": ROOT}
        if args.baseline:
            trees[args.baseline] = checkout(args.baseline, folder)
        try:
            for kind in kinds:
                urls = fresh_databases(kind, args.postgres, folder)
                runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
                for _ in range(args.repeat):
                    for name, root in trees.items():
                        runs[name].append(timed_load(next(urls), campaigns, events, root))
                for name, found in runs.items():
                    wall = statistics.median(r[0] for r in found)
                    peak = max(r[1] for r in found)
                    print(
                        f"{kind:<10} reporter load events ({name}): {wall:.2f} s (median of {args.repeat}), "
                        f"{count / wall:,.0f} events/s, peak {peak:.0f} MB"
                    )
                self_parts(kind, urls, campaigns, events, count)
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(trees[args.baseline])])


def self_parts(kind: str, urls: Iterator[str], campaigns: Path, events: Path, count: int) -> None:
    read, validate, store, stored = parts(next(urls), campaigns, events)
    urls.close()
    print(
        f"{kind:<10} apart, in one process: reading {read:.2f} s ({count / read:,.0f}/s), "
        f"validating {validate:.2f} s ({count / validate:,.0f}/s), "
        f"storing {store:.2f} s ({stored / store:,.0f}/s: staged and merged, nothing read or validated)"
    )


if __name__ == "__main__":
    main()

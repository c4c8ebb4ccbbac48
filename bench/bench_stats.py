"""Benchmark of `reporter stats`: time and peak memory by campaign size and table size.

    python bench/bench_stats.py --db sqlite:///bench/data/stats.db --build
    python bench/bench_stats.py --db postgresql+psycopg://postgres@127.0.0.1/reporter_bench --build

Builds (with --build) one table of about 10 million events holding campaigns
of about 100 thousand, 1 million and 2.4 million events (the last one has one
million users sent to) plus filler campaigns, and a second database holding
only the smallest campaign. Then, for each campaign, it times compute_stats in
a warm process (median of --repeat runs) and runs the real command
`reporter stats ID --json` in a fresh process (median of 3) for its wall time
and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.datagen import Plan, build  # noqa: E402
from reporter.db import analyze, make_engine, upgrade  # noqa: E402
from reporter.metrics import compute_stats, compute_stats_concurrently  # noqa: E402

TARGETS = [Plan("c100k", 40_000), Plan("c1m", 400_000), Plan("c2m5", 1_000_000)]
FILLERS = [Plan(f"filler{i}", 1_000_000, ab=i % 2 == 0) for i in range(3)]


def _fresh(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = Path(parsed.database)
        db.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        return
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _small_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(database=str(Path(parsed.database).with_suffix(".small.db"))).render_as_string(False)
    return parsed.set(database=f"{parsed.database}_small").render_as_string(False)


def build_all(url: str) -> None:
    for target, plans in ((url, TARGETS + FILLERS), (_small_url(url), TARGETS[:1])):
        _fresh(target)
        engine = make_engine(target)
        upgrade(engine)
        t = time.perf_counter()
        n = build(engine, plans)
        t_analyze = time.perf_counter()
        analyze(engine)
        print(
            f"{target}: {n:,} events written in {t_analyze - t:.0f} s, analyzed in "
            f"{time.perf_counter() - t_analyze:.0f} s"
        )
        engine.dispose()


def time_warm(url: str, cid: str, repeat: int) -> tuple[float, float, int]:
    """Median seconds of compute_stats on one connection and of the concurrent path (what the CLI runs)."""
    engine = make_engine(url)
    one, concurrent = [], []
    with engine.connect() as conn:
        stats = compute_stats(conn, cid)  # warm the cache
        for _ in range(repeat):
            t = time.perf_counter()
            stats = compute_stats(conn, cid)
            one.append(time.perf_counter() - t)
    for _ in range(repeat):
        t = time.perf_counter()
        compute_stats_concurrently(engine, cid)
        concurrent.append(time.perf_counter() - t)
    engine.dispose()
    return statistics.median(one), statistics.median(concurrent), stats.totals.sent_users


PEAK_RSS = (
    "import atexit, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "from reporter.cli import main\n"
    "main(sys.argv[1:])\n"
)


def run_command(url: str, cid: str) -> tuple[float, float]:
    """Wall time and peak RSS (MB, the process's own VmHWM) of `reporter stats CID --json`."""
    env = {**os.environ, "REPORTER_DATABASE_URL": url}
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "stats", cid, "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"reporter stats {cid} failed: {proc.stderr}")
    peak_kb = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB"))
    return wall, peak_kb / 1024


def count_events(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.campaign_id, COUNT(*) FROM events e JOIN campaigns c ON c.id = e.campaign_pk GROUP BY "
                "c.campaign_id"
            )
        ).all()
    engine.dispose()
    return dict(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--build", action="store_true", help="(re)create the data first")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.build:
        build_all(args.db)
    results = []
    for url in (_small_url(args.db), args.db):
        counts = count_events(url)
        table = sum(counts.values())
        for plan in TARGETS:
            if plan.campaign_id not in counts:
                continue
            one, concurrent, sent_users = time_warm(url, plan.campaign_id, args.repeat)
            commands = [run_command(url, plan.campaign_id) for _ in range(3)]  # one cold run is noise here
            wall, rss = statistics.median(c[0] for c in commands), max(c[1] for c in commands)
            row = {
                "table_events": table,
                "campaign": plan.campaign_id,
                "campaign_events": counts[plan.campaign_id],
                "sent_users": sent_users,
                "one_connection_s": round(one, 3),
                "concurrent_s": round(concurrent, 3),
                "command_s": round(wall, 3),
                "peak_rss_mb": round(rss),
            }
            results.append(row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

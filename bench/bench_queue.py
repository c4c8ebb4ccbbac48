"""Throughput of `reporter worker` processes on the local Redis: reports per hour with 1, 2 and 4 workers.

    python bench/bench_queue.py [--units 60] [--users 2000] [--workers 1,2,4]

Builds the demo data set (--users) in a temporary SQLite database, then for
each worker count: sends --units units (the three demo campaigns, one day
each, PDF and HTML, archived) to a fresh queue, starts that many
`reporter worker` processes, and times from the first send to the last unit
stored (worker start-up included). The machine's cores bound the gain.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from reporter.db import analyze, make_engine, upgrade  # noqa: E402
from reporter.demo import load_demo  # noqa: E402
from reporter.jobs.queue import UnitQueue  # noqa: E402
from reporter.jobs.unit import Unit  # noqa: E402
from reporter.models import Run  # noqa: E402
from reporter.settings import load_settings  # noqa: E402

DEMO = ("welcome-series", "cart-reminder", "black-friday-ab")
OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)


def one_run(url: str, tmp: str, units: int, workers: int) -> float:
    queue_name = f"reporter-bench-{uuid.uuid4().hex[:8]}"
    job = f"bench-{workers}"
    config = Path(tmp) / f"{job}.yaml"
    config.write_text(
        f"archive:\n  root: {tmp}/archive\nqueue:\n  url: redis://127.0.0.1:6379/13\n  name: {queue_name}\n"
        "logging:\n  level: warning\n"
    )
    engine = make_engine(url)
    queue = UnitQueue(engine, load_settings(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    started = time.perf_counter()
    for k in range(units):
        day = OCT_1 + timedelta(days=k // len(DEMO))
        queue.put(Unit(job, DEMO[k % len(DEMO)], day, day + timedelta(days=1), "UTC", formats=("pdf", "html")))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "reporter", "--config", str(config), "--db", url, "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    select(func.count()).where(Run.job == job, Run.status == "stored", Run.finished_at.is_not(None))
                ).scalar_one()
            if done == units:
                return time.perf_counter() - started
            time.sleep(0.1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        engine = make_engine(url)
        upgrade(engine)
        load_demo(engine, args.users, 1)
        analyze(engine)
        engine.dispose()
        for workers in (int(w) for w in args.workers.split(",")):
            seconds = one_run(url, tmp, args.units, workers)
            print(
                json.dumps(
                    {
                        "workers": workers,
                        "units": args.units,
                        "seconds": round(seconds, 1),
                        "reports_per_hour": round(3600 * args.units / seconds),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()

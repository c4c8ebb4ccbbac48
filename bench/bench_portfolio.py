"""Benchmark of the portfolio report: 200 campaigns on one report, against reading them campaign by campaign.

    python bench/bench_portfolio.py [--db URL] [--build] [--campaigns 200] [--repeat 3]

--build writes 200 campaigns into the database (2,000 to 20,000 users sent to
each, a third of them A/B tests with three variants, every one with a 10%
control group, all sending over the same 30 days: 4.5 million events), then:

* "command": `reporter render --portfolio` (PDF and HTML) in a fresh process,
  imports included, for one week and for the whole month, median of --repeat;
* "figures": the portfolio's figures in this process (grouped statements,
  both periods, the A/B verdicts), median of --repeat;
* "baseline": the same figures campaign by campaign, as one would without the
  portfolio: `compute_stats` for each campaign over the period and over the
  previous period, in this process, once.

The ratio baseline / figures is measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datagen import Plan, build  # noqa: E402
from reporter.db import analyze, make_engine, upgrade  # noqa: E402
from reporter.metrics import compute_stats  # noqa: E402
from reporter.metrics.model import Period  # noqa: E402
from reporter.metrics.portfolio import portfolio, previous_of  # noqa: E402

PERIODS = {
    "week": (datetime(2026, 10, 12, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC)),
    "month": (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),
}


def plans(n: int) -> list[Plan]:
    rng = random.Random(3)
    return [Plan(f"c{i:03d}", rng.choice([2000, 5000, 10000, 20000]), ab=(i % 3 == 0)) for i in range(n)]


def command(url: str, start: datetime, end: datetime, out: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `reporter render --portfolio` in a fresh process."""
    args = [sys.executable, "-m", "reporter", "--db", url, "render", "--portfolio"]
    args += ["--from", start.date().isoformat(), "--to", end.date().isoformat(), "--out", out]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file, built)")
    parser.add_argument("--build", action="store_true", help="write the campaigns into --db first")
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/portfolio.db"
        engine = make_engine(url)
        if args.build or args.db is None:
            upgrade(engine)
            events = build(engine, plans(args.campaigns))
            analyze(engine)
            print(json.dumps({"built": args.campaigns, "events": events}), flush=True)
        for name, (start, end) in PERIODS.items():
            period = Period(start, end, "UTC")
            runs = [command(url, start, end, f"{tmp}/out") for _ in range(args.repeat)]
            figures = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                pf = portfolio(engine, period)
                figures.append(time.perf_counter() - t)
            t = time.perf_counter()
            with engine.connect() as conn:
                for row in pf.rows + pf.idle:
                    for p in (period, previous_of(period)):
                        compute_stats(conn, row.campaign.id, p.start, p.end, "UTC")
            baseline = time.perf_counter() - t
            median = statistics.median(figures)
            print(
                json.dumps(
                    {
                        "period": name,
                        "campaigns": len(pf.rows) + len(pf.idle),
                        "command_s": round(statistics.median(s for s, _ in runs), 2),
                        "command_peak_mb": round(max(m for _, m in runs)),
                        "figures_s": round(median, 2),
                        "baseline_campaign_by_campaign_s": round(baseline, 2),
                        "ratio": round(baseline / median, 1),
                    }
                ),
                flush=True,
            )
        engine.dispose()


if __name__ == "__main__":
    main()

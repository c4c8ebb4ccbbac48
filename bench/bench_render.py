"""Benchmark of report rendering: one report in a warm process, and a batch on both cores.

    python bench/bench_render.py [--users 5000] [--repeat 7] [--batch 100]

Builds the demo data set in a temporary SQLite database, then:
* renders the single-message and the A/B demo report (PDF and HTML, charts
  included, previous-period comparison included) --repeat times in this warm
  process and reports the median, split into queries, charts, HTML and PDF;
* renders --batch reports (the three demo campaigns over successive weeks) with
  a process pool of 1 and of 2 workers, and reports reports per minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reporter.branding import Branding  # noqa: E402
from reporter.charts import report_charts  # noqa: E402
from reporter.charts.trend import granularity_for  # noqa: E402
from reporter.db import analyze, make_engine, upgrade  # noqa: E402
from reporter.demo import load_demo  # noqa: E402
from reporter.metrics import compute_stats_concurrently  # noqa: E402
from reporter.production import previous_stats, render_campaign  # noqa: E402
from reporter.render import render_html, render_pdf  # noqa: E402

GENERATED = datetime(2026, 11, 26, 7, tzinfo=UTC)
_ENGINE = None


def one_report(url: str, cid: str) -> dict[str, float]:
    """Seconds spent in each stage of one report: queries, HTML (charts included), PDF; charts also alone."""
    engine = make_engine(url)
    t0 = time.perf_counter()
    stats = compute_stats_concurrently(engine, cid)
    previous = previous_stats(engine, stats)
    t1 = time.perf_counter()
    days = max(1, round((stats.period.end - stats.period.start) / timedelta(days=1)))
    report_charts(stats, granularity_for(days))  # timed alone; render_html draws them again
    t2 = time.perf_counter()
    rendered = render_html(stats, previous, GENERATED, Branding(company="Acme"))
    t3 = time.perf_counter()
    render_pdf(rendered)
    t4 = time.perf_counter()
    engine.dispose()
    return {
        "queries": t1 - t0,
        "html_with_charts": t3 - t2,
        "of_which_charts": t2 - t1,
        "pdf": t4 - t3,
        "total": (t1 - t0) + (t3 - t2) + (t4 - t3),
    }


def _init(url: str) -> None:
    global _ENGINE
    _ENGINE = make_engine(url)


def _batch_job(args: tuple[str, int, str]) -> int:
    cid, week, out = args
    start = datetime(2026, 10, 5, tzinfo=UTC) + timedelta(weeks=week % 4)
    files = render_campaign(
        _ENGINE, cid, Path(out), ("pdf", "html"), start, start + timedelta(weeks=1), "UTC", GENERATED
    )
    return len(files)


def batch(url: str, n: int, workers: int, out: str) -> float:
    jobs = [
        (cid, i // 3, out)
        for i, cid in zip(range(n), ["welcome-series", "black-friday-ab", "cart-reminder"] * n, strict=False)
    ]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(url,)) as pool:
        list(pool.map(_batch_job, jobs[: workers * 2]))  # warm every worker (imports, fonts)
        t = time.perf_counter()
        list(pool.map(_batch_job, jobs))
        return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        engine = make_engine(url)
        upgrade(engine)
        load_demo(engine, args.users, 1)
        analyze(engine)
        engine.dispose()
        for cid, kind in (("welcome-series", "single"), ("black-friday-ab", "ab")):
            one_report(url, cid)  # warm: imports, fonts, caches
            runs = [one_report(url, cid) for _ in range(args.repeat)]
            median = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
            print(json.dumps({"report": kind, "campaign": cid, "users": args.users, "median_s": median}), flush=True)
        for workers in (1, 2):
            seconds = batch(url, args.batch, workers, f"{tmp}/out{workers}")
            print(
                json.dumps(
                    {
                        "batch": args.batch,
                        "workers": workers,
                        "seconds": round(seconds, 1),
                        "reports_per_minute": round(60 * args.batch / seconds, 1),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()

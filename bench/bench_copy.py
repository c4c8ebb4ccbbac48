"""The figures through the columnar copy (`database.columnar_copy`, DuckDB) against the database itself, one run.

    pip install -e '.[duckdb]'
    python bench/bench_copy.py --db sqlite:///bench/data/stats.db [--campaign c2m5] [--repeat 3]

On bench/bench_stats.py's database (--build there first): the time of the
first computation, which copies the campaign's events, then, warm (median of
--repeat), the campaign's figures over its whole life and the card of a week
(what a weekly report's comparison reads), straight from the database (two
connections) and through the copy, and whether both give the same figures;
last, the whole report (PDF and HTML) through the copy in this warm process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reporter.db import make_engine, with_copy  # noqa: E402
from reporter.metrics import compute_stats_concurrently  # noqa: E402
from reporter.metrics.serialize import stats_to_json  # noqa: E402
from reporter.production import produce  # noqa: E402

WEEK = (datetime(2026, 10, 15, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC))
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def median_s(run: Callable[[], object], repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--campaign", default="c2m5")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = make_engine(args.db)
    with tempfile.TemporaryDirectory() as tmp:
        fast = with_copy(engine, Path(tmp) / "copy.duckdb")
        started = time.perf_counter()
        through_copy = compute_stats_concurrently(fast, args.campaign)
        print(json.dumps({"first_computation_copying_s": round(time.perf_counter() - started, 2)}))
        direct = compute_stats_concurrently(engine, args.campaign)
        same = stats_to_json(direct) == stats_to_json(through_copy)
        for name, bounds, card in (("whole life", (None, None), False), ("card of a week", WEEK, True)):
            times = {}
            for how, eng in (("database", engine), ("copy", fast)):
                times[how] = median_s(
                    lambda eng=eng, bounds=bounds, card=card: compute_stats_concurrently(
                        eng, args.campaign, *bounds, card=card
                    ),
                    args.repeat,
                )
            row = {"figures": name, **{f"{k}_s": round(v, 2) for k, v in times.items()}}
            print(json.dumps({**row, "faster": round(times["database"] / times["copy"], 1)}))
        print(json.dumps({"same_figures": same}))

        # The whole report (figures, the previous period's card, charts, HTML, PDF) in a process that made one.
        def report() -> object:
            return produce(fast, args.campaign, None, None, "UTC", ("html", "pdf"), NOW)

        report()
        print(
            json.dumps(
                {"report": "PDF + HTML, warm process, copy", "median_s": round(median_s(report, args.repeat), 2)}
            )
        )
    engine.dispose()


if __name__ == "__main__":
    main()

"""`reporter render` against the pandas + pyplot + WeasyPrint script (bench/pandas_report.py), in one run.

    python bench/bench_vs_pandas.py --db sqlite:///bench/data/stats.db [--campaign c2m5] [--repeat 3] [--copy]

Each command runs in a fresh process (imports included) --repeat times; the
table gives the median wall time and the peak RSS of each, and their ratios.
The database is bench/bench_stats.py's (--build there first). pandas is a
benchmark dependency only: pip install pandas. With --copy, `reporter render`
also runs with `database.columnar_copy` (pip install -e '.[duckdb]'), the copy
made once before the timed runs (that first run's time is printed apart).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command in a fresh process (its own rusage, via a wrapper), with the
    environment `env` (default: this process's), in the folder `cwd`."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *args], check=True, capture_output=True, text=True, cwd=cwd, env=env
    )
    seconds, peak_kb = out.stdout.split()
    return float(seconds), int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--campaign", default="c2m5")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copy", action="store_true", help="also render through a columnar copy (DuckDB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        commands: dict[str, list[str]] = {
            "reporter render (PDF + HTML)": [
                sys.executable, "-m", "reporter", "--db", args.db, "render", args.campaign, "--out", f"{tmp}/r"
            ],
            "pandas + pyplot + WeasyPrint": [
                sys.executable, str(ROOT / "bench" / "pandas_report.py"), args.db, args.campaign, f"{tmp}/p"
            ],
        }  # fmt: skip
        if args.copy:
            config = Path(tmp) / "copy.yaml"
            config.write_text(f"database:\n  columnar_copy: {tmp}/copy.duckdb\n")
            render = commands["reporter render (PDF + HTML)"]
            commands["reporter render, columnar copy"] = [*render[:3], "--config", str(config), *render[3:]]
            made, made_mb = timed(commands["reporter render, columnar copy"])
            print(
                json.dumps({"command": "first render, making the copy", "s": round(made, 2), "peak_mb": round(made_mb)})
            )
        results: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for name, command in commands.items():
                results.setdefault(name, []).append(timed(command))
        rows = {
            name: (statistics.median(s for s, _ in runs), max(m for _, m in runs)) for name, runs in results.items()
        }
        theirs, theirs_mb = rows["pandas + pyplot + WeasyPrint"]
        for name, (seconds, mb) in rows.items():
            print(json.dumps({"command": name, "median_s": round(seconds, 2), "peak_mb": round(mb)}))
        for name, (ours, ours_mb) in rows.items():
            if name.startswith("reporter"):
                ratios = {"faster": round(theirs / ours, 1), "less_memory": round(theirs_mb / ours_mb, 1)}
                print(json.dumps({"command": name, **ratios}))


if __name__ == "__main__":
    main()

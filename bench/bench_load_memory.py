"""Benchmark of the loader's memory: ten times the events, the same peak.

    python bench/bench_load_memory.py [--small 100000] [--large 1000000]

Loads a gzipped CSV of --small and then of --large events into fresh SQLite
databases, each in its own process, and prints the peak of Python objects
(tracemalloc, which slows the load several times) and the process's high-water
mark (VmHWM) for both, with the load time. The test suite runs the same check
at 10,000 and 100,000 events (tests/test_ingest.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ingest.test_load import DATA, MEMORY_SCRIPT, _big_events_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.small, args.large):
            events = _big_events_file(Path(tmp) / f"events-{n}.csv.gz", n)
            t = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    MEMORY_SCRIPT,
                    f"sqlite:///{tmp}/m{n}.db",
                    str(DATA / "campaigns.csv"),
                    str(events),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout.split()
            print(
                f"{n:>10,} events: python peak {out[1]} MB, process peak {out[2]} MB, "
                f"{time.perf_counter() - t:.1f} s (under tracemalloc)"
            )


if __name__ == "__main__":
    main()

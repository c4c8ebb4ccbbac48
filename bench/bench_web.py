"""Load benchmark of the web app's listings: 200 concurrent requests against a 10,000-run archive.

    python bench/bench_web.py [--runs 10000] [--concurrency 200] [--rounds 5]

Writes an archive index of --runs runs, starts `reporter serve` in its own
process (anonymous browsing, so the load is the listing, not the login), and
loads it with wrk (Debian package `wrk`) from a second process: --concurrency
open connections, each sending its next request as soon as the last one is
answered, for --seconds, rotating over a mix of pages and filters, for the
HTML archive page and the JSON API. Prints wrk's latency percentiles.

(A Python load generator on this 2-core machine measures itself: httpx's
AsyncClient with 200 requests in flight took most of a core and tripled the
latencies it reported.)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def write_archive(root: Path, n: int) -> None:
    runs = []
    for i in range(n):
        job = ("daily", "weekly", "monthly")[i % 3]
        cid = f"campaign-{i % 40}"
        folder = f"{job}/{cid}/2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}-{i}"
        runs.append(
            {
                "job": job,
                "campaign_id": cid,
                "campaign_name": f"Campaign {i % 40}",
                "period": folder.rsplit("/", 1)[1],
                "timezone": "UTC",
                "generated_at": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}T07:{i % 60:02d}:00+00:00",
                "folder": folder,
                "artifacts": [{"name": f"{cid}.pdf", "size": 100_000, "sha256": "0" * 64}],
            }
        )
    runs.sort(key=lambda r: r["generated_at"], reverse=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps({"runs": runs}))


LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f\\n", summary.requests, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def run_wrk(base: str, paths: list[str], concurrency: int, seconds: int, workdir: Path) -> dict[str, float]:
    script = workdir / "paths.lua"
    script.write_text(LUA % ", ".join(json.dumps(p) for p in paths))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    requests, errors, p50, p95, p99, mean = line.split()[1:]
    return {
        "requests": int(requests),
        "non_2xx": int(errors),
        "median_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(mean),
        "per_second": round(int(requests) / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "archive"
        write_archive(root, args.runs)
        config = Path(tmp) / "reporter.yaml"
        config.write_text(f"archive:\n  root: {root}\nweb:\n  anonymous: true\nlogging:\n  level: warning\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "REPORTER_CONFIG": str(config), "REPORTER_DATABASE_URL": f"sqlite:///{tmp}/r.db"}
        server = subprocess.Popen([sys.executable, "-m", "reporter", "serve", "--port", str(port)], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/api/runs").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            queries = [
                "",
                "?page=2",
                "?job=daily",
                "?campaign=campaign-7",
                "?page=50",
                "?from=2026-03-01&to=2026-03-31",
                "?job=weekly&page=3",
            ]
            for name, prefix in (("html", "/"), ("api", "/api/runs")):
                result = run_wrk(base, [prefix + q for q in queries], args.concurrency, args.seconds, Path(tmp))
                print(
                    json.dumps({"listing": name, "runs": args.runs, "concurrency": args.concurrency, **result}),
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()

"""Listing latency while clients guess passwords: a logged-in user's archive page, with and without 8 guessers.

    python bench/bench_login.py [--runs 10000] [--seconds 10] [--listing-clients 4] [--guessers 8]
                                [--password-threads 1]

Writes an archive index of --runs runs, starts `reporter serve` in its own
process with two users, logs one in, and loads the HTML listing with wrk
(Debian package `wrk`) from a second process: --listing-clients open
connections carrying that user's session cookie, each sending its next
request as soon as the last one is answered, for --seconds, rotating over a
mix of pages and filters. Three measurements:

- quiet: the listing alone;
- guessing: a second wrk at the same time, --guessers connections posting
  wrong passwords to /login as fast as they are answered, with the default
  limits (all from 127.0.0.1: after 20 failures the answers are 429);
- guessing, no limit: the same against a server whose limits are out of
  reach, so that every guess costs an argon2 verification (guesses from many
  addresses and names).

Prints wrk's latency percentiles of the listing and the guessers' answers.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_web import LUA, write_archive  # noqa: E402
from reporter.db import make_engine, upgrade  # noqa: E402
from reporter.web.auth import hash_password  # noqa: E402

SECRET = "a-benchmark-secret-of-some-length"
PASSWORD = "the-right-password"
QUERIES = [
    "",
    "?page=2",
    "?job=daily",
    "?campaign=campaign-7",
    "?page=50",
    "?from=2026-03-01&to=2026-03-31",
    "?job=weekly&page=3",
]

GUESS_LUA = """
counter = 0
n401, n429, other = 0, 0, 0
threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/login", {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = %s},
                    "csrf=" .. %s .. "&name=vera&password=wrong-" .. counter)
end
response = function(status, headers, body)
  if status == 401 then n401 = n401 + 1 elseif status == 429 then n429 = n429 + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("n401"); b = b + t:get("n429"); c = c + t:get("other") end
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%.3f\\n", summary.requests, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
  io.write(string.format("ANSWERS %%d %%d %%d\\n", a, b, c))
end
"""


def start_wrk(base: str, script: Path, connections: int, seconds: int, headers: list[str]) -> subprocess.Popen:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    for header in headers:
        args += ["-H", header]
    return subprocess.Popen([*args, base], stdout=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen, seconds: int) -> dict[str, float]:
    out = process.communicate()[0]
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    requests, non_2xx, p50, p95, p99, mean = line.split()[1:]
    result = {
        "requests": int(requests),
        "non_2xx": int(non_2xx),
        "median_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(mean),
        "per_second": round(int(requests) / seconds),
    }
    answers = next((ln.split()[1:] for ln in out.splitlines() if ln.startswith("ANSWERS")), None)
    if answers:
        result.update({"401": int(answers[0]), "429": int(answers[1]), "other": int(answers[2])})
    return result


def serve(tmp: Path, name: str, root: Path, users: str, web: str) -> tuple[subprocess.Popen, str]:
    """`reporter serve` over the archive with its own database and config; returns the process and its URL."""
    url = f"sqlite:///{tmp / name}.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    config = tmp / f"{name}.yaml"
    config.write_text(f"archive:\n  root: {root}\nlogging:\n  level: warning\nweb:\n{web}  users:\n{users}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "REPORTER_CONFIG": str(config), "REPORTER_DATABASE_URL": url, "REPORTER_WEB_SECRET": SECRET}
    server = subprocess.Popen([sys.executable, "-m", "reporter", "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    return server, base


def session(base: str, name: str | None) -> tuple[str, str]:
    """A session cookie and its CSRF token; logged in as `name` unless None."""
    with httpx.Client(base_url=base) as client:
        csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
        if name is not None:
            response = client.post("/login", data={"csrf": csrf, "name": name, "password": PASSWORD})
            assert response.status_code == 303, response.status_code
        return client.cookies["reporter_session"], csrf


def measure(base: str, args: argparse.Namespace, workdir: Path, guess: bool) -> dict[str, object]:
    cookie, _csrf = session(base, "otto")
    for query in QUERIES:  # the first request of each filter parses and filters the index: not what is measured
        httpx.get(base + "/" + query, headers={"Cookie": f"reporter_session={cookie}"}).raise_for_status()
    listing = workdir / "listing.lua"
    listing.write_text(LUA % ", ".join(json.dumps("/" + q) for q in QUERIES))
    guesser = None
    if guess:
        guess_cookie, csrf = session(base, None)
        script = workdir / "guess.lua"
        script.write_text(GUESS_LUA % (json.dumps(f"reporter_session={guess_cookie}"), json.dumps(csrf)))
        # The guessers start first and run a second longer, so the listing is measured under load throughout.
        guesser = start_wrk(base, script, args.guessers, args.seconds + 2, [])
        time.sleep(1)
    result = result_of(
        start_wrk(base, listing, args.listing_clients, args.seconds, [f"Cookie: reporter_session={cookie}"]),
        args.seconds,
    )
    out: dict[str, object] = {"listing": result}
    if guesser is not None:
        guesses = result_of(guesser, args.seconds + 2)
        out["guesses"] = {k: guesses[k] for k in ("requests", "per_second", "median_ms", "401", "429", "other")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--listing-clients", type=int, default=4)
    parser.add_argument("--guessers", type=int, default=8)
    parser.add_argument("--password-threads", type=int, default=1)
    args = parser.parse_args()
    digest = hash_password(PASSWORD)
    users = "".join(
        f"    - {{name: {n}, password_hash: '{digest}', role: {r}}}\n"
        for n, r in (("vera", "viewer"), ("otto", "operator"))
    )
    threads = f"  password_threads: {args.password_threads}\n"
    unlimited = threads + "  login_user_failures: 1000000000\n  login_address_failures: 1000000000\n"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        root = workdir / "archive"
        write_archive(root, args.runs)
        for name, web, cases in (
            ("limited", threads, (("quiet", False), ("guessing", True))),
            ("unlimited", unlimited, (("guessing, no limit", True),)),
        ):
            server, base = serve(workdir, name, root, users, web)
            try:
                for case, guess in cases:
                    result = measure(base, args, workdir, guess)
                    print(
                        json.dumps(
                            {
                                "case": case,
                                "runs": args.runs,
                                "listing_clients": args.listing_clients,
                                "guessers": args.guessers if guess else 0,
                                "password_threads": args.password_threads,
                                **result,
                            }
                        ),
                        flush=True,
                    )
            finally:
                server.terminate()
                server.wait(10)


if __name__ == "__main__":
    main()

"""The campaign engine's statements on DuckDB (an embedded columnar database) against SQLite, same data, one run.

    pip install duckdb duckdb-engine     # benchmark only: not a dependency of reporter
    python bench/bench_duckdb.py --db sqlite:///bench/data/stats.db [--campaign c2m5] [--repeat 3]

Copies one campaign (its row, variants and events) from bench/bench_stats.py's
SQLite database into a DuckDB file (through CSV, DuckDB's bulk path), then
runs `compute_stats` unchanged, through SQLAlchemy, on both (warm, median of
--repeat), and checks that both give the same figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from reporter.db import make_engine  # noqa: E402
from reporter.metrics import compute_stats  # noqa: E402
from reporter.metrics.serialize import stats_to_json  # noqa: E402

SCHEMA = """
CREATE TABLE campaigns (id INTEGER PRIMARY KEY, campaign_id VARCHAR, name VARCHAR, type VARCHAR, start_at TIMESTAMP,
    end_at TIMESTAMP, conversion_event VARCHAR, conversion_window_hours DOUBLE, control_group_pct DOUBLE,
    currency VARCHAR, first_event_us BIGINT, last_event_us BIGINT, planned_users INTEGER);
CREATE TABLE variants (id INTEGER, campaign_pk INTEGER, variant VARCHAR, position INTEGER, name VARCHAR,
    title VARCHAR, body VARCHAR, split_pct DOUBLE, baseline BOOLEAN);
CREATE TABLE events (id BIGINT, event_id VARCHAR, campaign_pk INTEGER, variant VARCHAR, user_id VARCHAR,
    device_id VARCHAR, event SMALLINT, ts BIGINT, platform VARCHAR, device_type VARCHAR, channel VARCHAR,
    error_code VARCHAR, revenue DOUBLE);
"""


def export(sqlite_url: str, campaign: str, folder: Path) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        pk = conn.execute(text("SELECT id FROM campaigns WHERE campaign_id = :c"), {"c": campaign}).scalar_one()
        for table, where in (("campaigns", "id"), ("variants", "campaign_pk"), ("events", "campaign_pk")):
            result = conn.execute(text(f"SELECT * FROM {table} WHERE {where} = :pk"), {"pk": pk})
            with (folder / f"{table}.csv").open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(result.keys())
                for row in result:
                    writer.writerow(["" if v is None else v for v in row])
    engine.dispose()


def warm(url: str, campaign: str, repeat: int) -> tuple[float, dict[str, object]]:
    engine = create_engine(url) if url.startswith("duckdb") else make_engine(url)
    with engine.connect() as conn:
        compute_stats(conn, campaign)
        seconds = []
        for _ in range(repeat):
            t = time.perf_counter()
            stats = compute_stats(conn, campaign)
            seconds.append(time.perf_counter() - t)
    engine.dispose()
    return statistics.median(seconds), stats_to_json(stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--campaign", default="c2m5")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export(args.db, args.campaign, folder)
        con = duckdb.connect(str(folder / "events.duckdb"))
        con.execute(SCHEMA)
        t = time.perf_counter()
        for table in ("campaigns", "variants", "events"):
            con.execute(f"INSERT INTO {table} SELECT * FROM read_csv('{folder / table}.csv', header=true, nullstr='')")
        loaded = con.execute("SELECT count(*) FROM events").fetchone()
        load_s = time.perf_counter() - t
        con.close()
        duck_s, duck = warm(f"duckdb:///{folder / 'events.duckdb'}", args.campaign, args.repeat)
        lite_s, lite = warm(args.db, args.campaign, args.repeat)
        same = json.dumps(duck, sort_keys=True, default=str) == json.dumps(lite, sort_keys=True, default=str)
        print(json.dumps({"events": loaded[0] if loaded else 0, "duckdb_load_s": round(load_s, 2)}))
        print(
            json.dumps(
                {
                    "compute_stats_sqlite_s": round(lite_s, 2),
                    "compute_stats_duckdb_s": round(duck_s, 2),
                    "ratio": round(lite_s / duck_s, 1),
                    "same_figures": same,
                }
            )
        )


if __name__ == "__main__":
    main()

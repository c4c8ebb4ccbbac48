"""Loading campaigns and events: formats, rejects, de-duplication, interruption, memory."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from reporter.errors import InputFileError
from reporter.ingest import load_campaigns, load_events, parse_timestamp
from reporter.timezones import to_us
from reporter.models import Campaign, Event, EventType, Variant

DATA = Path(__file__).parent / "data"
HEADER = "event_id,campaign_id,variant,user_id,device_id,event,ts,platform,device_type,channel,error_code,revenue\n"


def count_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Event)).scalar_one()


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    summary = load_campaigns(engine, DATA / "campaigns.csv")
    assert (summary.loaded, summary.rejected) == (2, 0)
    return engine


def test_campaigns_csv_and_yaml_load_with_variants(loaded: Engine) -> None:
    summary = load_campaigns(loaded, DATA / "campaigns.yaml")
    assert (summary.loaded, summary.rejected) == (1, 0)
    with loaded.connect() as conn:
        rows = conn.execute(
            select(Campaign.campaign_id, Campaign.name, Campaign.conversion_window_hours, Campaign.currency)
            .order_by(Campaign.campaign_id)
        ).all()
        variants = conn.execute(
            select(Campaign.campaign_id, Variant.variant, Variant.split_pct, Variant.baseline)
            .join(Campaign, Campaign.id == Variant.campaign_pk)
            .order_by(Campaign.campaign_id, Variant.position)
        ).all()
    assert rows == [
        ("c-ab", "Black Friday", 48.0, "EUR"),
        ("c-single", "Spring <b>sale</b>", 24.0, "USD"),
        ("c-yaml", "Café ☕ promo", 24.0, "USD"),
    ]
    # The first variant is the baseline unless one says otherwise.
    assert variants == [
        ("c-ab", "A", 45.0, True), ("c-ab", "B", 45.0, False),
        ("c-yaml", "A", 50.0, False), ("c-yaml", "B", 50.0, True),
    ]


def test_reloading_a_campaign_updates_it(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"campaign_id": "c-single", "name": "Renamed", "type": "single",
                                "start_at": "2026-11-01", "conversion_window_hours": 12}) + "\n")
    assert load_campaigns(loaded, path).loaded == 1
    with loaded.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Campaign)).scalar_one() == 2
        name, window = conn.execute(
            select(Campaign.name, Campaign.conversion_window_hours).where(Campaign.campaign_id == "c-single")
        ).one()
    assert (name, window) == ("Renamed", 12.0)


def test_bad_campaigns_are_rejected_with_reasons(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    records = [
        {"campaign_id": "ok", "name": "Fine", "type": "single", "start_at": "2026-11-01T00:00:00Z"},
        {"campaign_id": "no-name", "type": "single", "start_at": "2026-11-01T00:00:00Z"},
        {"campaign_id": "bad-type", "name": "x", "type": "email", "start_at": "2026-11-01T00:00:00Z"},
        {"campaign_id": "bad-window", "name": "x", "type": "single", "start_at": "2026-11-01", "conversion_window_hours": 0},
        {"campaign_id": "bad-split", "name": "x", "type": "ab", "start_at": "2026-11-01", "control_group_pct": 10,
         "variants": [{"variant": "A", "name": "a", "split_pct": 50}, {"variant": "B", "name": "b", "split_pct": 50}]},
        {"campaign_id": "bad-currency", "name": "x", "type": "single", "start_at": "2026-11-01", "currency": "XYZ"},
        {"campaign_id": "bad-control", "name": "x", "type": "single", "start_at": "2026-11-01", "control_group_pct": 101},
        {"campaign_id": "bad-planned", "name": "x", "type": "single", "start_at": "2026-11-01", "planned_users": 2.5},
        {"campaign_id": "planned", "name": "x", "type": "single", "start_at": "2026-11-01", "planned_users": "20000"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = load_campaigns(engine, path)
    assert (summary.loaded, summary.rejected) == (2, 7)
    rejects = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "missing name"),
        (3, "unknown type 'email' (expected one of single, ab)"),
        (4, "conversion_window_hours must be positive, got 0"),
        (5, "variant split_pct sum to 100, expected 90 (100 - control_group_pct)"),
        (6, "currency is not an ISO 4217 code: 'XYZ'"),
        (7, "control_group_pct must be between 0 and 100, got 101"),
        (8, "planned_users must be a whole number of users, at least 1, got 2.5"),
    ]
    assert json.loads(rejects[0]["record"]) == records[1]  # unchanged
    with engine.connect() as conn:
        planned = conn.exec_driver_sql("SELECT campaign_id, planned_users FROM campaigns ORDER BY campaign_id").all()
    assert [tuple(row) for row in planned] == [("ok", None), ("planned", 20000)]


def _write_events_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


GOOD_ROWS = [
    "e1,c-single,,u1,d1,sent,2026-11-02T10:00:00Z,iOS,Phone,,,",
    "e2,c-single,,u1,d1,impression,2026-11-02T10:01:00+01:00,ios,phone,push,,",
    "e3,c-single,,u1,d1,conversion,2026-11-02T12:00:00,,,,,19.90",
    "e4,c-ab,A,u2,,sent,2026-11-02T10:00:00Z,android,tablet,app_inbox,,",
    "e5,c-ab,B,u3,,error,2026-11-02T10:00:00Z,android,,,UNREGISTERED,",
    ",c-ab,,u4,,qualified,2026-11-02T09:00:00Z,,,,,",
]


def test_good_csv_events_load_with_normalised_fields(loaded: Engine, tmp_path: Path) -> None:
    summary = load_events(loaded, _write_events_csv(tmp_path / "events.csv", GOOD_ROWS))
    assert (summary.loaded, summary.duplicates, summary.rejected) == (6, 0, 0)
    assert summary.rejects_path is None
    with loaded.connect() as conn:
        rows = conn.execute(
            select(Event.event_id, Event.variant, Event.event, Event.ts, Event.platform, Event.device_type,
                   Event.channel, Event.error_code, Event.revenue).order_by(Event.id)
        ).all()
    ts = lambda s: to_us(parse_timestamp(s))  # noqa: E731
    assert rows == [
        ("e1", None, EventType.SENT, ts("2026-11-02T10:00:00+00:00"), "ios", "phone", "push", None, None),
        ("e2", None, EventType.IMPRESSION, ts("2026-11-02T09:01:00+00:00"), "ios", "phone", "push", None, None),
        # No offset: taken as UTC; no channel on a conversion; revenue kept.
        ("e3", None, EventType.CONVERSION, ts("2026-11-02T12:00:00+00:00"), "unknown", "unknown", None, None, 19.9),
        ("e4", "A", EventType.SENT, ts("2026-11-02T10:00:00+00:00"), "android", "tablet", "app_inbox", None, None),
        ("e5", "B", EventType.ERROR, ts("2026-11-02T10:00:00+00:00"), "android", "unknown", "push", "UNREGISTERED", None),
        (None, None, EventType.QUALIFIED, ts("2026-11-02T09:00:00+00:00"), "unknown", "unknown", None, None, None),
    ]


def test_jsonl_and_gzip_events_load(loaded: Engine, tmp_path: Path) -> None:
    records = [
        {"event_id": "j1", "campaign_id": "c-single", "user_id": "u1", "event": "sent", "ts": "2026-11-02T10:00:00Z"},
        {"event_id": "j2", "campaign_id": "c-single", "user_id": "u1", "event": "click", "ts": "2026-11-02T10:05:00Z"},
    ]
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    summary = load_events(loaded, path)
    assert (summary.loaded, summary.rejected) == (2, 0)
    plain = tmp_path / "more.jsonl"
    plain.write_text(json.dumps({**records[0], "event_id": "j3"}) + "\n")
    assert load_events(loaded, plain).loaded == 1
    assert count_events(loaded) == 3


def test_every_bad_record_is_rejected_with_line_and_reason(loaded: Engine, tmp_path: Path) -> None:
    bad = [
        "b1,c-single,,,d1,sent,2026-11-02T10:00:00Z,,,,,",                     # 2: missing user_id
        "b2,c-single,,u1,,open,2026-11-02T10:00:00Z,,,,,",                     # 3: unknown event
        "b3,nope,,u1,,sent,2026-11-02T10:00:00Z,,,,,",                         # 4: unknown campaign
        "b4,c-ab,Z,u1,,sent,2026-11-02T10:00:00Z,,,,,",                        # 5: unknown variant
        "b5,c-single,,u1,,sent,yesterday,,,,,",                                # 6: bad timestamp
        "b6,c-single,,u1,,conversion,2026-11-02T10:00:00Z,,,,,-5",             # 7: negative revenue
        'b7,c-single,,u1,,sent,"2026-11-02T10:00:00Z,,,,,',                    # 8: malformed CSV (quote)
        "b8,c-single,,u1,,sent,2026-11-02T10:00:00Z,,,",                       # 9: too few fields
        "b9,c-ab,,u1,,click,2026-11-02T10:00:00Z,,,,,",                        # 10: ab click without variant
        "b10,c-single,,u1,,error,2026-11-02T10:00:00Z,,,,,",                   # 11: error without code
        "b11,c-single,,u1,,sent,2026-11-02T10:00:00Z,beos,,,,",                # 12: unknown platform
        "b12,c-single,,u1,,conversion,2026-11-02T10:00:00Z,,,,,abc",           # 13: revenue not a number
    ]
    rows = [GOOD_ROWS[0], *bad, GOOD_ROWS[3]]
    path = _write_events_csv(tmp_path / "events.csv", rows)
    summary = load_events(loaded, path)
    assert (summary.loaded, summary.rejected) == (2, 12)
    assert summary.rejects_path == tmp_path / "events.csv.rejects.csv"
    with open(summary.rejects_path, newline="") as f:
        got = list(csv.DictReader(f))
    assert [(int(r["line"]), r["reason"]) for r in got] == [
        (3, "missing user_id"),
        (4, "unknown event 'open'"),
        (5, "unknown campaign 'nope'"),
        (6, "unknown variant 'Z' of campaign 'c-ab'"),
        (7, "ts is not an ISO 8601 timestamp: 'yesterday'"),
        (8, "negative revenue: '-5'"),
        (9, "malformed CSV line: unexpected end of data"),
        (10, "malformed CSV line: expected 12 fields, got 10"),
        (11, "missing variant (required on click of an ab campaign)"),
        (12, "missing error_code (required on error)"),
        (13, "unknown platform 'beos' (expected one of ios, android, web, other)"),
        (14, "revenue is not a number: 'abc'"),
    ]
    # Rejected records are written unchanged.
    assert [r["record"] for r in got if r["line"] != "9"] == [b for b in bad if not b.startswith("b7")]


def test_reloading_the_same_file_adds_nothing(loaded: Engine, tmp_path: Path) -> None:
    path = _write_events_csv(tmp_path / "events.csv", GOOD_ROWS + [GOOD_ROWS[0]])
    first = load_events(loaded, path)
    # The repeated e1 in the same file is a duplicate too.
    assert (first.loaded, first.duplicates) == (6, 1)
    second = load_events(loaded, path)
    # The record without an event_id cannot be recognised, so it is stored again (data.md).
    assert (second.loaded, second.duplicates) == (1, 6)
    assert count_events(loaded) == 7


def test_interrupted_load_keeps_whole_batches_and_a_rerun_completes(loaded: Engine, tmp_path: Path) -> None:
    rows = [f"i{n},c-single,,u{n},,sent,2026-11-02T10:00:00Z,,,,," for n in range(1, 26)]
    path = _write_events_csv(tmp_path / "events.csv", rows)

    class Crash(Exception):
        pass

    def crash_after_two(loaded_so_far: int, _dups: int) -> None:
        if loaded_so_far >= 20:
            raise Crash

    with pytest.raises(Crash):
        load_events(loaded, path, batch_size=10, on_batch=crash_after_two)
    assert count_events(loaded) == 20  # two whole batches, not 25, not 23
    summary = load_events(loaded, path, batch_size=10)
    assert (summary.loaded, summary.duplicates) == (5, 20)
    with loaded.connect() as conn:
        ids = conn.execute(select(Event.event_id)).scalars().all()
    assert sorted(ids) == sorted(f"i{n}" for n in range(1, 26))


def test_exception_inside_a_batch_stores_none_of_it(loaded: Engine, tmp_path: Path) -> None:
    """A failure while a batch is being written rolls that batch back completely."""
    rows = [f"x{n},c-single,,u{n},,sent,2026-11-02T10:00:00Z,,,,," for n in range(1, 16)]
    rows[12] = "x13," + "c-single,,u13,,sent,2026-11-02T10:00:00Z,,,,,".replace("u13", "u" * 5000)
    path = _write_events_csv(tmp_path / "events.csv", rows)
    summary = load_events(loaded, path, batch_size=10)
    # Over-long ids are rejects, not crashes: the other 14 load.
    assert (summary.loaded, summary.rejected) == (14, 1)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("event_id,campaign,user_id,event,ts\n", "wrong header: unknown column 'campaign'"),
        ("event_id,campaign_id,user_id,event\n", "wrong header: missing column 'ts'"),
        ("", "is empty (expected a CSV header line)"),
    ],
)
def test_unreadable_csv_stops_before_storing_anything(loaded: Engine, tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "events.csv"
    path.write_text(content + "e1,c-single,u1,sent,2026-11-02T10:00:00Z\n" if content else "")
    with pytest.raises(InputFileError) as info:
        load_events(loaded, path)
    assert info.value.problem == problem
    assert count_events(loaded) == 0


def test_not_jsonl_and_not_gzip_are_file_errors(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("this is not json\n")
    with pytest.raises(InputFileError, match="not a JSON Lines file"):
        load_events(loaded, path)
    gz = tmp_path / "events.csv.gz"
    gz.write_text(HEADER)
    with pytest.raises(InputFileError, match="cannot be read"):
        load_events(loaded, gz)
    with pytest.raises(InputFileError, match="unknown file type"):
        load_events(loaded, tmp_path / "events.parquet")


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, tracemalloc
    from pathlib import Path
    from reporter.db import make_engine, upgrade
    from reporter.ingest import load_campaigns, load_events
    engine = make_engine(sys.argv[1]); upgrade(engine)
    load_campaigns(engine, Path(sys.argv[2]))
    tracemalloc.start()
    summary = load_events(engine, Path(sys.argv[3]))
    python_peak = tracemalloc.get_traced_memory()[1] // 2**20
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest, large by now).
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(summary.loaded, python_peak, hwm // 1024)
    """
)


def _big_events_file(path: Path, n: int) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        f.write(HEADER)
        kinds = ("sent", "impression", "click")
        for i in range(n):
            f.write(f"m{i},c-single,,u{i // 3},,{kinds[i % 3]},2026-11-02T10:{i % 60:02d}:00Z,android,phone,,,\n")
    return path


@pytest.mark.slow
def test_ten_times_the_events_load_with_flat_memory(tmp_path: Path) -> None:
    """10,000 and 100,000 events here; bench/bench_load_memory.py runs 100,000 and 1,000,000."""
    peaks = {}
    for n in (10_000, 100_000):
        events = _big_events_file(tmp_path / f"events-{n}.csv.gz", n)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, f"sqlite:///{tmp_path / f'm{n}.db'}", str(DATA / "campaigns.csv"), str(events)],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        assert int(out[0]) == n
        peaks[n] = (int(out[1]), int(out[2]))
    # Ten times the events, the same peak of Python objects: the loader streams.
    assert peaks[100_000][0] <= peaks[10_000][0] + 2, peaks
    # The process as a whole stays bounded (SQLite's page cache is capped at 64 MB).
    assert peaks[100_000][1] < 250, peaks


def test_a_load_into_postgres_keeps_the_planner_statistics(postgres_url: str, tmp_path: Path) -> None:
    """Without statistics PostgreSQL scanned the growing table for every event_id look-up (0.75 s a batch)."""
    from sqlalchemy import text

    from reporter.db import make_engine, upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    load_campaigns(engine, DATA / "campaigns.csv")
    rows = [f"p{n},c-single,,u{n},,sent,2026-11-02T10:00:00Z,,,,," for n in range(40)]
    load_events(engine, _write_events_csv(tmp_path / "events.csv", rows), batch_size=10)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'events'")).scalar() == 40
    engine.dispose()


def test_a_reload_cannot_drop_a_variant_or_type_that_events_use(loaded: Engine, tmp_path: Path) -> None:
    load_events(loaded, _write_events_csv(tmp_path / "events.csv", GOOD_ROWS))  # c-ab has events of A and B
    path = tmp_path / "c.jsonl"
    records = [
        {"campaign_id": "c-ab", "name": "Black Friday", "type": "ab", "start_at": "2026-11-01", "control_group_pct": 10,
         "variants": [{"variant": "A", "name": "a", "split_pct": 45}, {"variant": "C", "name": "c", "split_pct": 45}]},
        {"campaign_id": "c-single", "name": "Now A/B", "type": "ab", "start_at": "2026-11-01",
         "variants": [{"variant": "A", "name": "a", "split_pct": 50}, {"variant": "B", "name": "b", "split_pct": 50}]},
        {"campaign_id": "c-ab", "name": "Renamed", "type": "ab", "start_at": "2026-11-01", "control_group_pct": 10,
         "variants": [{"variant": "A", "name": "a", "split_pct": 30}, {"variant": "B", "name": "b", "split_pct": 30},
                      {"variant": "C", "name": "c", "split_pct": 30}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = load_campaigns(loaded, path)
    assert (summary.loaded, summary.rejected) == (1, 2)
    reasons = [json.loads(line)["reason"] for line in summary.rejects_path.read_text().splitlines()]
    assert reasons == ["variant 'B' has events and cannot be removed",
                       "type cannot change from single to ab: the campaign has events"]
    with loaded.connect() as conn:
        names = dict(conn.execute(select(Campaign.campaign_id, Campaign.name)).all())
    assert names["c-ab"] == "Renamed"  # adding a variant is fine


def test_nul_and_lone_surrogates_are_rejects_and_the_good_records_load(engine: Engine, tmp_path: Path) -> None:
    """One bad string used to abort the whole load (exit 1) and lose the good records of the file."""
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n")
    load_campaigns(engine, campaigns)
    events = tmp_path / "e.jsonl"
    lines = [
        '{"campaign_id": "c", "user_id": "u1", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
        '{"campaign_id": "c", "user_id": "bad \\ud800 name", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
        '{"campaign_id": "c", "user_id": "nul \\u0000 name", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
        '{"campaign_id": "c", "user_id": "u4", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
    ]
    events.write_text("\n".join(lines) + "\n")
    summary = load_events(engine, events)
    assert (summary.loaded, summary.rejected) == (2, 2)
    rejects = [json.loads(line) for line in summary.rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"], r["record"]) for r in rejects] == [
        (2, "user_id is not valid Unicode (a lone surrogate)", lines[1]),
        (3, "user_id contains a NUL character", lines[2]),
    ]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT user_id FROM events ORDER BY user_id").scalars().all() == ["u1", "u4"]


def _refuse_user(engine: Engine, user: str) -> None:
    """Make the database itself refuse one user's rows, as a constraint the loader does not know would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.user_id = '{user}' "
                "BEGIN SELECT RAISE(ABORT, 'user is blocked'); END")
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.user_id = '{user}' THEN RAISE EXCEPTION 'user is blocked'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()")


def test_a_row_the_database_refuses_costs_only_itself(engine: Engine, tmp_path: Path) -> None:
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n")
    load_campaigns(engine, campaigns)
    _refuse_user(engine, "u13")
    events = tmp_path / "e.jsonl"
    events.write_text("".join(
        json.dumps({"campaign_id": "c", "user_id": f"u{i}", "event": "sent", "ts": "2026-11-02T00:00:00Z"}) + "\n"
        for i in range(25)))
    summary = load_events(engine, events, batch_size=10)
    assert (summary.loaded, summary.rejected) == (24, 1)
    (reject,) = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert reject["line"] == 14 and reject["reason"].startswith("refused by the database: ")
    assert "user is blocked" in reject["reason"]
    with engine.connect() as conn:
        users = conn.exec_driver_sql("SELECT user_id FROM events").scalars().all()
    assert sorted(users) == sorted(f"u{i}" for i in range(25) if i != 13)


def test_two_concurrent_loads_of_one_file_both_succeed_without_duplicates(db_url: str, tmp_path: Path) -> None:
    from reporter.db import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n")
    load_campaigns(engine, campaigns)
    events = tmp_path / "e.jsonl"
    events.write_text("".join(
        json.dumps({"event_id": f"e{i}", "campaign_id": "c", "user_id": f"u{i % 500}", "event": "sent",
                    "ts": f"2026-11-02T{i % 24:02d}:00:00Z"}) + "\n"
        for i in range(20_000)))
    env = {**os.environ, "REPORTER_DATABASE_URL": db_url}
    procs = [subprocess.Popen([sys.executable, "-m", "reporter", "load", "events", str(events)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outcomes
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events").one() == (20_000, 20_000)
    engine.dispose()


def test_a_killed_load_leaves_no_temporary_rejects_file_behind(sqlite_engine: Engine, tmp_path: Path) -> None:
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n")
    load_campaigns(sqlite_engine, campaigns)
    events = tmp_path / "e.jsonl"
    events.write_text('{"campaign_id": "c", "user_id": "u1", "event": "sent", "ts": "2026-11-02T00:00:00Z"}\nnot json\n')
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs, as a load killed with -9 leaves behind
    orphan = tmp_path / f"e.jsonl.rejects.jsonl.{dead.pid}.tmp"
    orphan.write_text("half written\n")
    summary = load_events(sqlite_engine, events)
    assert summary.rejected == 1
    assert not orphan.exists()

"""Storing: campaigns updated on a reload, duplicates, batches, rows the database refuses, planner statistics."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select

from reporter.ingest import load_campaigns, load_events, store
from reporter.models import Campaign, Event
from tests.ingest.helpers import DATA, GOOD_ROWS, count_events, write_events_csv


def test_reloading_a_campaign_updates_it(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps(
            {
                "campaign_id": "c-single",
                "name": "Renamed",
                "type": "single",
                "start_at": "2026-11-01",
                "conversion_window_hours": 12,
            }
        )
        + "\n"
    )
    assert load_campaigns(loaded, path).loaded == 1
    with loaded.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Campaign)).scalar_one() == 2
        name, window = conn.execute(
            select(Campaign.name, Campaign.conversion_window_hours).where(Campaign.campaign_id == "c-single")
        ).one()
    assert (name, window) == ("Renamed", 12.0)


def test_reloading_the_same_file_adds_nothing(loaded: Engine, tmp_path: Path) -> None:
    path = write_events_csv(tmp_path / "events.csv", [*GOOD_ROWS, GOOD_ROWS[0]])
    first = load_events(loaded, path)
    # The repeated e1 in the same file is a duplicate too.
    assert (first.loaded, first.duplicates) == (6, 1)
    second = load_events(loaded, path)
    # The record without an event_id cannot be recognised, so it is stored again (data.md).
    assert (second.loaded, second.duplicates) == (1, 6)
    assert count_events(loaded) == 7


def test_exception_inside_a_batch_stores_none_of_it(loaded: Engine, tmp_path: Path) -> None:
    """A failure while a batch is being written rolls that batch back completely."""
    rows = [f"x{n},c-single,,u{n},,sent,2026-11-02T10:00:00Z,,,,," for n in range(1, 16)]
    rows[12] = "x13," + "c-single,,u13,,sent,2026-11-02T10:00:00Z,,,,,".replace("u13", "u" * 5000)
    path = write_events_csv(tmp_path / "events.csv", rows)
    summary = load_events(loaded, path, batch_size=10)
    # Over-long ids are rejects, not crashes: the other 14 load.
    assert (summary.loaded, summary.rejected) == (14, 1)


def test_a_load_into_postgres_keeps_the_planner_statistics(postgres_url: str, tmp_path: Path) -> None:
    """Without statistics PostgreSQL scanned the growing table for every event_id look-up (0.75 s a batch)."""
    from sqlalchemy import text

    from reporter.db import make_engine, upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    load_campaigns(engine, DATA / "campaigns.csv")
    rows = [f"p{n},c-single,,u{n},,sent,2026-11-02T10:00:00Z,,,,," for n in range(40)]
    load_events(engine, write_events_csv(tmp_path / "events.csv", rows), batch_size=10)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'events'")).scalar() == 40
    engine.dispose()


def test_a_reload_cannot_drop_a_variant_or_type_that_events_use(loaded: Engine, tmp_path: Path) -> None:
    load_events(loaded, write_events_csv(tmp_path / "events.csv", GOOD_ROWS))  # c-ab has events of A and B
    path = tmp_path / "c.jsonl"
    records = [
        {
            "campaign_id": "c-ab",
            "name": "Black Friday",
            "type": "ab",
            "start_at": "2026-11-01",
            "control_group_pct": 10,
            "variants": [
                {"variant": "A", "name": "a", "split_pct": 45},
                {"variant": "C", "name": "c", "split_pct": 45},
            ],
        },
        {
            "campaign_id": "c-single",
            "name": "Now A/B",
            "type": "ab",
            "start_at": "2026-11-01",
            "variants": [
                {"variant": "A", "name": "a", "split_pct": 50},
                {"variant": "B", "name": "b", "split_pct": 50},
            ],
        },
        {
            "campaign_id": "c-ab",
            "name": "Renamed",
            "type": "ab",
            "start_at": "2026-11-01",
            "control_group_pct": 10,
            "variants": [
                {"variant": "A", "name": "a", "split_pct": 30},
                {"variant": "B", "name": "b", "split_pct": 30},
                {"variant": "C", "name": "c", "split_pct": 30},
            ],
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = load_campaigns(loaded, path)
    assert (summary.loaded, summary.rejected) == (1, 2)
    reasons = [json.loads(line)["reason"] for line in summary.rejects_path.read_text().splitlines()]
    assert reasons == [
        "variant 'B' has events and cannot be removed",
        "type cannot change from single to ab: the campaign has events",
    ]
    with loaded.connect() as conn:
        names = dict(conn.execute(select(Campaign.campaign_id, Campaign.name)).all())
    assert names["c-ab"] == "Renamed"  # adding a variant is fine


def _refuse_user(engine: Engine, user: str) -> None:
    """Make the database itself refuse one user's rows, as a constraint the loader does not know would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.user_id = '{user}' "
                "BEGIN SELECT RAISE(ABORT, 'user is blocked'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.user_id = '{user}' THEN RAISE EXCEPTION 'user is blocked'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql"
            )
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()")


def _load_campaign_c(engine: Engine, tmp_path: Path) -> None:
    """One single-message campaign, `c`."""
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(
        json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n"
    )
    load_campaigns(engine, campaigns)


def test_a_row_the_database_refuses_costs_only_itself(engine: Engine, tmp_path: Path) -> None:
    _load_campaign_c(engine, tmp_path)
    _refuse_user(engine, "u13")
    events = tmp_path / "e.jsonl"
    events.write_text(
        "".join(
            json.dumps({"campaign_id": "c", "user_id": f"u{i}", "event": "sent", "ts": "2026-11-02T00:00:00Z"}) + "\n"
            for i in range(25)
        )
    )
    summary = load_events(engine, events, batch_size=10)
    assert (summary.loaded, summary.rejected) == (24, 1)
    (reject,) = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert reject["line"] == 14 and reject["reason"].startswith("refused by the database: ")
    assert "user is blocked" in reject["reason"]
    with engine.connect() as conn:
        users = conn.exec_driver_sql("SELECT user_id FROM events").scalars().all()
    assert sorted(users) == sorted(f"u{i}" for i in range(25) if i != 13)


def test_a_refused_row_of_a_csv_block_is_rejected_with_its_own_line(engine: Engine, tmp_path: Path) -> None:
    _load_campaign_c(engine, tmp_path)
    _refuse_user(engine, "u13")
    events = tmp_path / "e.csv"
    events.write_text(
        "campaign_id,user_id,event,ts\n"
        + "".join(f"c,u{i},sent,2026-11-02T00:00:0{i % 10}Z\n" for i in range(25))
        + 'c,"u30",sent,2026-11-02T00:00:00Z\n'  # a quoted field: its block goes line by line
    )
    summary = load_events(engine, events, batch_size=10)
    assert (summary.loaded, summary.rejected) == (25, 1)
    rejects = list(csv.reader(summary.rejects_path.read_text().splitlines()))
    assert rejects[1][:1] == ["15"] and rejects[1][2] == "c,u13,sent,2026-11-02T00:00:03Z"
    assert "user is blocked" in rejects[1][1]


def test_a_clean_file_is_stored_through_the_stage(
    loaded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row-at-a-time path is only for a batch the database refuses: a stage that fails for another
    reason must not hide behind it."""

    def refuse(*args: object) -> None:
        raise AssertionError("stored row by row")

    monkeypatch.setattr(store, "_store_serially", refuse)
    rows = [*GOOD_ROWS, "e1,c-single,,u1,d1,sent,2026-11-02T10:00:00Z,iOS,Phone,,,"]  # and a duplicate
    summary = load_events(loaded, write_events_csv(tmp_path / "e.csv", rows), batch_size=4)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (6, 1, 0)
    with loaded.connect() as conn:
        ids = conn.exec_driver_sql("SELECT event_id FROM events ORDER BY id").scalars().all()
    if loaded.dialect.name == "sqlite":
        assert ids == ["e1", "e2", "e3", "e4", "e5", None]  # the file's order: one lane
    else:
        assert sorted(ids, key=str) == [None, "e1", "e2", "e3", "e4", "e5"]  # two lanes: batches in any order


def test_one_event_twice_in_batches_merged_at_once_is_stored_once(engine: Engine, tmp_path: Path) -> None:
    """The second half of the file is the first backwards: on PostgreSQL the two lanes insert the same
    event ids in opposite orders, wait on each other, and the database undoes one merge, which is tried again."""
    _load_campaign_c(engine, tmp_path)
    rows = [f"e{i},c,,u{i},,sent,2026-11-02T00:00:00Z,,,,," for i in range(1000)]
    summary = load_events(engine, write_events_csv(tmp_path / "e.csv", rows + rows[::-1]), batch_size=1000)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (1000, 1000, 0)
    assert count_events(engine) == 1000


@pytest.mark.parametrize("uris", [True, False], ids=["in-memory-stage", "stage-files"])
def test_the_sqlite_stage_leaves_no_file_behind(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uris: bool
) -> None:
    """In memory where the library reads `file:` URIs in ATTACH; else two files in a temporary folder, removed
    after the load. Either way nothing is left in the working folder or the temporary one."""
    monkeypatch.setattr(store, "_reads_uris", lambda conn: uris)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    summary = load_campaigns(sqlite_engine, DATA / "campaigns.csv")
    assert summary.loaded == 2
    summary = load_events(sqlite_engine, write_events_csv(tmp_path / "e.csv", GOOD_ROWS), batch_size=4)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (6, 0, 0)
    assert count_events(sqlite_engine) == 6
    assert list(temporary.iterdir()) == [] and list(work.iterdir()) == []


def test_batches_hold_batch_size_records_even_inside_a_block_of_lines(engine: Engine, tmp_path: Path) -> None:
    """25 lines (one block read at once) by batches of 10: three transactions, of 10, 10 and 5 events."""
    _load_campaign_c(engine, tmp_path)
    rows = [f"b{i},c,,u{i},,sent,2026-11-02T00:00:00Z,,,,," for i in range(25)]
    batches: list[tuple[int, int]] = []
    summary = load_events(
        engine, write_events_csv(tmp_path / "e.csv", rows), batch_size=10, on_batch=lambda n, d: batches.append((n, d))
    )
    assert summary.loaded == 25
    assert len(batches) == 3 and batches[-1] == (25, 0)
    assert {batches[0][0], batches[1][0] - batches[0][0]} <= {10, 5}  # two lanes on PostgreSQL: any order


COVERING = ["ix_events_campaign_event_user", "ix_events_campaign_event_variant", "ix_events_impressions"]


def _covering_present(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(i["name"] for i in inspect(conn).get_indexes("events") if i["name"] in COVERING)


def _indexes_during_load(engine: Engine, path: Path) -> tuple[list[list[str]], list[str]]:
    """The covering indexes present after each batch of a load by batches of 10, and after the load."""
    seen: list[list[str]] = []
    summary = load_events(engine, path, batch_size=10, on_batch=lambda n, d: seen.append(_covering_present(engine)))
    assert summary.rejected == 0
    return seen, _covering_present(engine)


def test_a_first_load_builds_the_covering_indexes_at_its_end(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into an empty table (from DEFER_INDEXES_FROM events) the indexes are dropped and built after the last
    batch: the loaded rows and the readers' plans are those of a load that kept them up."""
    monkeypatch.setattr(store, "DEFER_INDEXES_FROM", {"sqlite": 0, "postgresql": 0})
    _load_campaign_c(engine, tmp_path)
    rows = [
        f"f{i},c,,u{i % 7},,{'sent' if i % 3 else 'impression'},2026-11-02T00:00:{i % 60:02d}Z,ios,phone,,,"
        for i in range(45)
    ]
    seen, after = _indexes_during_load(engine, write_events_csv(tmp_path / "e.csv", rows + rows[:5]))
    assert seen == [[]] * 5  # 50 lines by batches of 10: five batches, none with the indexes
    assert after == COVERING
    if engine.dialect.name == "sqlite":  # the marker file beside the database, held during the load, is gone
        assert not Path(f"{engine.url.database}-reporter-load").exists()
    assert count_events(engine) == 45
    with engine.connect() as conn:
        impressions = conn.exec_driver_sql("SELECT count(*) FROM events WHERE event = 4").scalar_one()
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT platform, count(*) FROM events "
                "WHERE campaign_pk = 1 AND event = 4 GROUP BY platform"
            ).all()
            assert "ix_events_impressions" in str(plan)
    assert impressions == 15  # i = 0, 3, ..., 42


def test_a_load_into_a_table_holding_events_keeps_its_indexes_up(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping them would turn the readers' queries of the stored events into scans for the load's time."""
    monkeypatch.setattr(store, "DEFER_INDEXES_FROM", {"sqlite": 0, "postgresql": 0})
    _load_campaign_c(engine, tmp_path)
    load_events(engine, write_events_csv(tmp_path / "first.csv", ["k0,c,,u0,,sent,2026-11-02T00:00:00Z,,,,,"]))
    rows = [f"k{i},c,,u{i},,sent,2026-11-02T00:00:00Z,,,,," for i in range(1, 31)]
    seen, after = _indexes_during_load(engine, write_events_csv(tmp_path / "e.csv", rows))
    assert seen == [COVERING] * 3 and after == COVERING
    assert count_events(engine) == 31


def test_a_small_first_load_into_sqlite_keeps_its_indexes_up(sqlite_engine: Engine, tmp_path: Path) -> None:
    """Below DEFER_INDEXES_FROM (500,000 events on SQLite), the build alone at the end costs more than the
    upkeep beside the validating."""
    _load_campaign_c(sqlite_engine, tmp_path)
    rows = [f"s{i},c,,u{i},,sent,2026-11-02T00:00:00Z,,,,," for i in range(30)]
    seen, after = _indexes_during_load(sqlite_engine, write_events_csv(tmp_path / "e.csv", rows))
    assert seen == [COVERING] * 3 and after == COVERING


def test_indexes_a_stopped_load_left_out_are_built_by_the_next_load(engine: Engine, tmp_path: Path) -> None:
    _load_campaign_c(engine, tmp_path)
    load_events(engine, write_events_csv(tmp_path / "first.csv", ["h0,c,,u0,,sent,2026-11-02T00:00:00Z,,,,,"]))
    with engine.begin() as conn:  # as a load killed between its first batch and its end leaves the table
        for name in COVERING[:2]:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    assert _covering_present(engine) == COVERING[2:]
    seen, after = _indexes_during_load(
        engine, write_events_csv(tmp_path / "e.csv", ["h1,c,,u1,,sent,2026-11-02T00:00:00Z,,,,,"])
    )
    assert seen == [COVERING] and after == COVERING


def test_a_first_load_killed_mid_way_leaves_its_batches_and_db_upgrade_builds_the_indexes(
    postgres_url: str, tmp_path: Path
) -> None:
    """kill -9 between two batches of a load into an empty table (on PostgreSQL its indexes are built at the
    end): the batches stored stay, the indexes are missing until `reporter db upgrade` (or the next load)
    builds them, and the same command again stores the rest."""
    import os
    import subprocess
    import sys
    import time

    from reporter.db import make_engine, upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    _load_campaign_c(engine, tmp_path)
    total = 150_000
    path = write_events_csv(
        tmp_path / "e.csv", [f"k{i},c,,u{i % 5000},,sent,2026-11-02T00:00:{i % 60:02d}Z,,,,," for i in range(total)]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    command = [sys.executable, "-m", "reporter", "--db", postgres_url]
    load = [*command, "load", "events", str(path), "--batch-size", "5000"]
    proc = subprocess.Popen(load, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while count_events(engine) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    # The server finishes what the killed client had sent (a batch's commit, it may be) and ends its sessions, and
    # the marker (an advisory lock) with them, once it notices: counted after that.
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        sessions = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        while conn.exec_driver_sql(sessions).scalar_one() > engine.pool.checkedin():
            assert time.monotonic() < deadline, "the killed load's sessions outlived it"
            conn.rollback()
            time.sleep(0.05)
    stored = count_events(engine)
    assert 0 < stored < total and stored % 5000 == 0  # whole batches only
    assert _covering_present(engine) == []

    upgraded = subprocess.run([*command, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "built the events table's indexes" in upgraded.stdout and _covering_present(engine) == COVERING

    again = subprocess.run(load, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"loaded {total - stored:,} events, skipped {stored:,} duplicates" in again.stdout
    assert count_events(engine) == total and _covering_present(engine) == COVERING
    engine.dispose()


def test_a_first_load_keeps_the_indexes_up_rather_than_wait_for_a_reader_of_postgres(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DROP INDEX waits for the readers of the table, and every reader after it would wait too: past the
    wait allowed, the load goes on with the indexes (and the reader is never held back for the load)."""
    from reporter.db import make_engine, upgrade

    monkeypatch.setattr(store, "DEFER_LOCK_WAIT_S", 0.2)
    monkeypatch.setattr(store, "DEFER_INDEXES_FROM", {"sqlite": 0, "postgresql": 0})
    engine = make_engine(postgres_url)
    upgrade(engine)
    _load_campaign_c(engine, tmp_path)
    with engine.connect() as reader:
        reader.execute(select(func.count()).select_from(Event))  # its transaction holds the table open
        rows = [f"r{i},c,,u{i},,sent,2026-11-02T00:00:00Z,,,,," for i in range(30)]
        seen, after = _indexes_during_load(engine, write_events_csv(tmp_path / "e.csv", rows))
        reader.rollback()
    assert seen == [COVERING] * 3 and after == COVERING
    assert count_events(engine) == 30
    engine.dispose()


def test_indexes_a_running_load_dropped_are_left_to_it(engine: Engine, tmp_path: Path) -> None:
    """Another load or `reporter db upgrade` while a first load runs must not build them over half its rows
    (nor hold its batches back meanwhile): the marker the load holds says they are its to build."""
    _load_campaign_c(engine, tmp_path)
    running = store._Deferring(engine)  # as a first load in another process holds it
    assert running.take()
    try:
        assert not store._Deferring(engine).take()  # a second first load does not drop or build them too
        with engine.begin() as conn:
            for name in COVERING:
                conn.exec_driver_sql(f"DROP INDEX {name}")
        assert store.build_event_indexes(engine) == [] and _covering_present(engine) == []
    finally:
        running.release()
    assert store.build_event_indexes(engine) == COVERING and _covering_present(engine) == COVERING


def test_a_failed_build_at_the_end_does_not_fail_a_stored_load(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every batch is committed when the build begins: a build that fails (here another connection holds the
    write lock past the busy timeout) is told, and left to `reporter db upgrade`; the load's counts stand."""
    import sqlite3

    from reporter.db import make_engine, upgrade

    monkeypatch.setattr(store, "DEFER_INDEXES_FROM", {"sqlite": 0, "postgresql": 0})
    engine = make_engine(sqlite_url, busy_timeout_s=0.3)
    upgrade(engine)
    _load_campaign_c(engine, tmp_path)
    holder = sqlite3.connect(engine.url.database, isolation_level=None)

    def hold_after_the_last(loaded: int, duplicates: int) -> None:
        if loaded == 30:
            holder.execute("BEGIN IMMEDIATE")

    rows = [f"w{i},c,,u{i},,sent,2026-11-02T00:00:00Z,,,,," for i in range(30)]
    summary = load_events(
        engine, write_events_csv(tmp_path / "e.csv", rows), batch_size=10, on_batch=hold_after_the_last
    )
    assert (summary.loaded, summary.duplicates, summary.rejected) == (30, 0, 0)
    assert "the events are loaded, but building the events table's indexes failed (database is locked)" in caplog.text
    holder.execute("ROLLBACK")
    holder.close()
    assert _covering_present(engine) == [] and count_events(engine) == 30
    assert store.build_event_indexes(engine) == COVERING
    engine.dispose()


def test_the_index_build_sorts_in_threads_and_gives_the_connection_back_as_it_was(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        before = [conn.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in ("threads", "cache_size")]
        assert before == [0, -65536]
        with store._sorting_in_threads(conn):
            assert [conn.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in ("threads", "cache_size")] == [
                2,
                -8000,
            ]
        assert [conn.exec_driver_sql(f"PRAGMA {name}").scalar_one() for name in ("threads", "cache_size")] == before

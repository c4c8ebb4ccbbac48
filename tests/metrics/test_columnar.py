"""The columnar copy (DuckDB, `database.columnar_copy`): the database's figures, kept current, rebuilt when lost.

Every hand-worked figure of tests/metrics is also checked through a copy (helpers.stats); these tests cause what
a copy must survive: events loaded after it was made, a campaign deleted and loaded again, a late commit, another
database, a damaged file, another process holding it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from sqlalchemy import Engine, delete, insert, select, text

from reporter.db import make_engine, upgrade, with_copy
from reporter.errors import DatabaseError
from reporter.metrics import columnar, compute_stats, compute_stats_concurrently
from reporter.models import Campaign, Event, EventType, Variant
from reporter.timezones import to_us
from tests.metrics.helpers import T0, campaign, ev, load


def variants() -> list[dict[str, object]]:
    return [{"variant": v, "name": f"Variant {v}", "split_pct": 45} for v in "AB"]


def events(cid: str, users: range, hours: float = 1) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in users:
        variant = "AB"[i % 2]
        out.append(ev(cid, f"u{i}", "sent", hours, variant=variant, channel="push"))
        if i % 3 == 0:
            out.append(ev(cid, f"u{i}", "impression", hours, variant=variant, channel="push", platform="ios"))
        if i % 5 == 0:
            out.append(ev(cid, f"u{i}", "conversion", hours + 1, revenue="2.50"))
    return out


def direct(engine: Engine, cid: str) -> object:
    with engine.connect() as conn:
        return compute_stats(conn, cid)


def copied_rows(path: Path) -> dict[int, int]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return dict(con.execute("SELECT campaign_pk, count(*) FROM events GROUP BY 1").fetchall())


def test_the_copy_follows_every_load(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    fast = with_copy(engine, path)
    load(engine, [campaign("ab", "ab", control=10, variants=variants())], events("ab", range(60)))
    first = compute_stats_concurrently(fast, "ab")
    assert first == direct(engine, "ab") and first.totals.sent_users == 60
    load(engine, [], events("ab", range(60, 100), hours=30))  # a second batch: appended to the copy
    later = compute_stats_concurrently(fast, "ab")
    assert later == direct(engine, "ab") and later.totals.sent_users == 100
    assert later.totals.revenue == pytest.approx(20 * 2.5)
    with engine.connect() as conn:
        pk = conn.execute(select(Campaign.id).where(Campaign.campaign_id == "ab")).scalar_one()
        stored = conn.execute(select(Event.id).where(Event.campaign_pk == pk)).all()
    assert copied_rows(path) == {pk: len(stored)}


def test_a_campaign_deleted_and_loaded_again_is_copied_again(engine: Engine, tmp_path: Path) -> None:
    fast = with_copy(engine, tmp_path / "copy.duckdb")
    load(engine, [campaign("re", "ab", control=10, variants=variants())], events("re", range(40)))
    assert compute_stats_concurrently(fast, "re").totals.sent_users == 40
    with engine.begin() as conn:  # what `demo --reset` does: the campaign and its events go
        pk = conn.execute(select(Campaign.id).where(Campaign.campaign_id == "re")).scalar_one()
        conn.execute(delete(Event).where(Event.campaign_pk == pk))
        conn.execute(delete(Variant).where(Variant.campaign_pk == pk))
        conn.execute(delete(Campaign).where(Campaign.id == pk))
    # The same campaign again, as many events (on SQLite the same ids), four hours later.
    load(engine, [campaign("re", "ab", control=10, variants=variants())], events("re", range(40), hours=5))
    again = compute_stats_concurrently(fast, "re")
    assert again == direct(engine, "re") and again.totals.sent_users == 40


def test_a_campaign_loaded_again_with_the_same_ids_and_times_is_copied_again(engine: Engine, tmp_path: Path) -> None:
    """Corrected data under the same ids, counts and times (ten users moved to variant A): nothing a count or a
    checksum of times would see."""
    fast = with_copy(engine, tmp_path / "copy.duckdb")
    load(engine, [campaign("fix", "ab", control=10, variants=variants())], events("fix", range(30)))
    before = compute_stats_concurrently(fast, "fix")
    with engine.begin() as conn:
        pk = conn.execute(select(Campaign.id).where(Campaign.campaign_id == "fix")).scalar_one()
        conn.execute(delete(Event).where(Event.campaign_pk == pk))
        conn.execute(delete(Variant).where(Variant.campaign_pk == pk))
        conn.execute(delete(Campaign).where(Campaign.id == pk))
    moved = {f"u{i}" for i in range(10)}
    fixed = [{**e, "variant": "A"} if "variant" in e and e["user_id"] in moved else e for e in events("fix", range(30))]
    load(engine, [campaign("fix", "ab", control=10, variants=variants())], fixed)
    again = compute_stats_concurrently(fast, "fix")
    assert again == direct(engine, "fix")
    assert [v.sent_users for v in before.variants] == [15, 15]
    assert [v.sent_users for v in again.variants] == [20, 10]


def test_events_committed_late_are_not_missed(engine: Engine, tmp_path: Path) -> None:
    """On PostgreSQL a batch can commit after one with higher ids: appending above the newest id misses it."""
    fast = with_copy(engine, tmp_path / "copy.duckdb")
    load(engine, [campaign("late", "ab", control=10, variants=variants())], events("late", range(20)))
    assert compute_stats_concurrently(fast, "late").totals.sent_users == 20
    load(engine, [], events("late", range(20, 30)))  # moves the token: the copy appends ids above its newest
    with engine.begin() as conn:  # and one event whose id is below them all, as a late commit has
        pk = conn.execute(select(Campaign.id).where(Campaign.campaign_id == "late")).scalar_one()
        conn.execute(
            insert(Event).values(
                id=0,
                campaign_pk=pk,
                user_id="late-user",
                event=int(EventType.SENT),
                ts=to_us(T0 + timedelta(hours=2)),
                variant="A",
                channel="push",
                platform="ios",
                device_type="phone",
            )
        )
    again = compute_stats_concurrently(fast, "late")
    assert again == direct(engine, "late") and again.totals.sent_users == 31


def test_one_copy_for_two_databases_starts_again_for_each(tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    engines = []
    for name, users in (("one", 10), ("two", 25)):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        load(engine, [campaign("c", "ab", control=10, variants=variants())], events("c", range(users)))
        engines.append(engine)
    for engine, users in ((engines[0], 10), (engines[1], 25), (engines[0], 10)):
        assert compute_stats_concurrently(with_copy(engine, path), "c").totals.sent_users == users
    for engine in engines:
        engine.dispose()


def test_a_damaged_copy_is_made_again(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    load(sqlite_engine, [campaign("d", "ab", control=10, variants=variants())], events("d", range(12)))
    path.write_bytes(b"not a DuckDB file" * 100)
    assert compute_stats_concurrently(with_copy(sqlite_engine, path), "d") == direct(sqlite_engine, "d")


def test_a_copy_held_by_another_process_is_waited_for_then_named(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    load(sqlite_engine, [campaign("w", "ab", control=10, variants=variants())], events("w", range(5)))
    hold = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
        " fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, f"{path}.lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseError, match=r"the columnar copy .* stayed busy for 0.3 s"):
            columnar.compute_stats(sqlite_engine, path, "w", None, None, "UTC", None, False, lock_timeout_s=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert columnar.compute_stats(sqlite_engine, path, "w", None, None, "UTC", None, False).totals.sent_users == 5


def test_a_missing_folder_is_one_clear_error(sqlite_engine: Engine, tmp_path: Path) -> None:
    load(sqlite_engine, [campaign("m", "ab", control=10, variants=variants())], events("m", range(3)))
    with pytest.raises(DatabaseError, match=r"database.columnar_copy: folder .* does not exist"):
        compute_stats_concurrently(with_copy(sqlite_engine, tmp_path / "nowhere" / "copy.duckdb"), "m")


def test_campaigns_stored_before_the_token_get_one_each(sqlite_url: str) -> None:
    from alembic import command

    from reporter.db import _alembic_config

    engine = make_engine(sqlite_url)
    command.upgrade(_alembic_config(engine), "0006")  # type: ignore[arg-type]
    with engine.begin() as conn:
        for cid in ("x", "y"):
            conn.execute(
                text(
                    "INSERT INTO campaigns (campaign_id, name, type, start_at, conversion_window_hours,"
                    " control_group_pct, currency) VALUES (:c, 'n', 'single', '2026-11-01 00:00:00', 24, 0, 'USD')"
                ),
                {"c": cid},
            )
    assert upgrade(engine) == ("0006", "0007")
    with engine.connect() as conn:
        tokens = conn.execute(select(Campaign.events_token)).scalars().all()
    assert len(tokens) == 2 and len(set(tokens)) == 2 and all(t and len(t) == 32 for t in tokens)
    engine.dispose()


def test_a_copy_another_program_holds_open_is_named_not_deleted(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    load(sqlite_engine, [campaign("o", "ab", control=10, variants=variants())], events("o", range(4)))
    compute_stats_concurrently(with_copy(sqlite_engine, path), "o")
    with duckdb.connect(str(path)) as mark:
        mark.execute("CREATE TABLE mark (a INTEGER)")
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(DatabaseError, match=r"the columnar copy .* cannot be opened: .*Could not set lock"):
            compute_stats_concurrently(with_copy(sqlite_engine, path), "o")
    finally:
        holder.kill()
        holder.wait()
    assert compute_stats_concurrently(with_copy(sqlite_engine, path), "o") == direct(sqlite_engine, "o")
    with duckdb.connect(str(path)) as mark:  # the same file, not a new copy
        assert mark.execute("SELECT count(*) FROM mark").fetchone() == (0,)


def test_a_truncated_copy_is_made_again(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    load(sqlite_engine, [campaign("t", "ab", control=10, variants=variants())], events("t", range(6)))
    compute_stats_concurrently(with_copy(sqlite_engine, path), "t")
    path.write_bytes(path.read_bytes()[:5000])
    assert compute_stats_concurrently(with_copy(sqlite_engine, path), "t") == direct(sqlite_engine, "t")


def test_hours_of_a_half_hour_clock_change_count_as_in_the_database(sqlite_engine: Engine, tmp_path: Path) -> None:
    # Australia/Lord_Howe leaves summer time on 2027-04-04: 02:00 (+11:00) becomes 01:30 (+10:30), at
    # 15:00 UTC. The day's planned hours after the change start at whole UTC hours, half an hour off the
    # grid a GROUP BY on the local hour would use: the copy must count each hour as the database does.
    tz = ZoneInfo("Australia/Lord_Howe")
    change = datetime(2027, 4, 3, 15, tzinfo=UTC)
    hours = (change - T0) / timedelta(hours=1)
    sends = [ev("h", f"u{i}", "sent", hours - 2 + i / 6, variant="AB"[i % 2], channel="push") for i in range(48)]
    load(sqlite_engine, [campaign("h", "ab", control=10, variants=variants())], sends)
    start, end = datetime(2027, 4, 4, tzinfo=tz), datetime(2027, 4, 5, tzinfo=tz)
    copied = compute_stats_concurrently(with_copy(sqlite_engine, tmp_path / "copy.duckdb"), "h", start, end, tz.key)
    with sqlite_engine.connect() as conn:
        assert copied == compute_stats(conn, "h", start, end, tz.key)
    assert copied.totals.sent == 48


def test_a_copy_of_the_earlier_version_is_made_again(sqlite_engine: Engine, tmp_path: Path) -> None:
    # Version 1 of the copy kept user ids as text; its tables, stale here (three users), are replaced whole.
    path = tmp_path / "copy.duckdb"
    load(sqlite_engine, [campaign("v", "ab", control=10, variants=variants())], events("v", range(9)))
    with duckdb.connect(str(path)) as old:
        old.execute(
            "CREATE TABLE events (campaign_pk INTEGER, id BIGINT, event SMALLINT, ts BIGINT, user_id VARCHAR,"
            " variant VARCHAR, channel VARCHAR, platform VARCHAR, device_type VARCHAR, error_code VARCHAR,"
            " revenue DOUBLE)"
        )
        old.execute(
            "CREATE TABLE copied (campaign_pk INTEGER PRIMARY KEY, token VARCHAR, events BIGINT, max_id BIGINT)"
        )
        old.execute(
            "INSERT INTO events SELECT 1, i, 3, 0, 'u' || i, 'A', 'push', 'ios', 'phone', NULL, NULL FROM range(3) t(i)"
        )
    assert compute_stats_concurrently(with_copy(sqlite_engine, path), "v") == direct(sqlite_engine, "v")
    with duckdb.connect(str(path), read_only=True) as new:
        assert new.execute("SELECT DISTINCT typeof(user_id) FROM events").fetchall() == [("BIGINT",)]
        assert new.execute("SELECT count(*), count(DISTINCT n), max(n) FROM users").fetchone() == (9, 9, 9)


def test_a_period_starting_after_a_half_hour_clock_change_counts_as_in_the_database(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # From 06:00 local on 2027-04-04 (after Lord Howe's 02:00 -> 01:30 change): the offsets of the period alone
    # do not change, but its planned hours are still laid out from local midnight, off the keys' grid.
    tz = ZoneInfo("Australia/Lord_Howe")
    base = (datetime(2027, 4, 3, 20, tzinfo=UTC) - T0) / timedelta(hours=1)  # 06:30 local
    sends = [ev("m", f"u{i}", "sent", base + i / 6, variant="AB"[i % 2], channel="push") for i in range(24)]
    load(sqlite_engine, [campaign("m", "ab", control=10, variants=variants())], sends)
    start, end = datetime(2027, 4, 4, 6, tzinfo=tz), datetime(2027, 4, 5, tzinfo=tz)
    copied = compute_stats_concurrently(with_copy(sqlite_engine, tmp_path / "copy.duckdb"), "m", start, end, tz.key)
    with sqlite_engine.connect() as conn:
        assert copied == compute_stats(conn, "m", start, end, tz.key)


def test_a_reports_figures_and_its_previous_card_on_one_connection_are_the_databases(
    engine: Engine, tmp_path: Path
) -> None:
    # What `produce` asks of a copy: the report's figures and the card of the period before, together.
    load(engine, [campaign("two", "ab", control=10, variants=variants())], events("two", range(60)))
    load(engine, [], events("two", range(60, 100), hours=30))  # users 0-59 on day one, 60-99 on day two
    path = tmp_path / "copy.duckdb"
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=2)
    report, card = columnar.compute_stats_and_previous(engine, path, "two", start, end, "UTC")
    assert report == compute_stats_concurrently(engine, "two", start, end, "UTC")
    assert card == compute_stats_concurrently(engine, "two", T0, start, "UTC", card=True)
    assert (report.totals.sent_users, card.totals.sent_users) == (40, 60)
    assert card is not None and card.totals.revenue == pytest.approx(12 * 2.5)  # users 0, 5, ..., 55 convert
    # The whole life's previous period lies before the first event: no card, which the database's all zeros match.
    whole, none = columnar.compute_stats_and_previous(engine, path, "two", None, None, "UTC")
    assert none is None and whole == compute_stats_concurrently(engine, "two")
    first, length = whole.period.start, whole.period.end - whole.period.start
    empty = compute_stats_concurrently(engine, "two", first - length, first, "UTC", card=True)
    assert (empty.totals.sent, empty.totals.conversions, empty.totals.qualified, empty.control.users) == (0, 0, 0, 0)


def test_the_queries_over_every_user_come_before_the_lighter_ones_of_both_periods(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # `produce` starts importing the rendering modules when the queries with hash tables of every user are
    # done, the previous period's included: their working memory and the imports' never add up.
    from sqlalchemy import event

    load(sqlite_engine, [campaign("big", "ab", control=10, variants=variants())], events("big", range(60)))
    load(sqlite_engine, [], events("big", range(60, 100), hours=30))
    statements: list[str] = []
    seen_at_signal: list[int] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM events" in statement:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        columnar.compute_stats_and_previous(
            sqlite_engine,
            tmp_path / "copy.duckdb",
            "big",
            T0 + timedelta(days=1),
            T0 + timedelta(days=2),
            "UTC",
            lighter_queries_next=lambda: seen_at_signal.append(len(statements)),
        )
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert len(seen_at_signal) == 1
    before, after = statements[: seen_at_signal[0]], statements[seen_at_signal[0] :]
    heavy = ("WITH conv AS", "WITH control_firsts AS")  # conversions, assignments (with first sends)
    for marker in heavy:
        assert sum(marker in s for s in before) >= 2, marker  # the period's (and since the test began), the card's
        assert not any(marker in s for s in after), marker
    # Distinct users (bitstrings, a few kB), counts, reach, split and error codes come after, the card's too.
    assert sum("bitstring_agg" in s for s in after) == 2 and not any("bitstring_agg" in s for s in before)


def test_a_batch_the_copy_refuses_tells_its_own_error_and_leaves_nothing_half_done() -> None:
    """DuckDB refuses even the unregister of a batch in a transaction it aborted: its error must not hide the
    batch's own, and the batch's new users are undone with it."""

    class Rows:  # a DB-API cursor's fetchmany over rows as the main database gives them
        def __init__(self, rows: list[tuple]) -> None:
            self.rows = rows

        def fetchmany(self, n: int) -> list[tuple]:
            out, self.rows = self.rows[:n], self.rows[n:]
            return out

    raw = duckdb.connect()
    for statement in columnar.SCHEMA:
        raw.execute(statement)
    bad = (1, 2, 1000, "u1", None, None, "ios", "phone", None, "not a number")  # a revenue DuckDB cannot read
    with pytest.raises(duckdb.ConversionException, match="not a number"):
        columnar._append(raw, 1, Rows([bad]))
    assert raw.execute("SELECT count(*) FROM users").fetchall() == [(0,)]
    columnar._append(raw, 1, Rows([(*bad[:9], 19.9)]))  # the connection goes on
    assert raw.execute("SELECT user_id, revenue FROM events").fetchall() == [(1, 19.9)]
    raw.close()

"""The concurrent path reads one state of the database, even while a writer commits all along.

Every other metrics test compares it with the one-connection path (helpers.stats).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from tests.metrics.helpers import T0, campaign, ev, load


def test_sqlite_figures_are_one_state_while_a_writer_commits(sqlite_engine: Engine) -> None:
    """Each commit adds one send to a new user: in any one state sends == users sent to.

    The concurrent path reads on two connections; a writer committing all along
    forces it onto its one-transaction fallback, which must still see one state.
    """
    import threading

    from reporter.metrics import compute_stats_concurrently

    load(sqlite_engine, [campaign("w")], [ev("w", "u0", "sent", 1)])
    stop = threading.Event()

    def write() -> None:
        i = 1
        while not stop.is_set():
            load(sqlite_engine, [], [ev("w", f"u{i}", "sent", 1 + i / 3600)])
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(5):
            st = compute_stats_concurrently(sqlite_engine, "w", T0, T0 + timedelta(days=2))
            assert st.totals.sent == st.totals.sent_users
    finally:
        stop.set()
        writer.join()
    assert st.totals.sent >= 1

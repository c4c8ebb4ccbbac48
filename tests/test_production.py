"""produce() in a fresh process: the rendering modules imported while the figures are computed, the garbage
collector resting meanwhile and back afterwards, the objects alive once the imports are done frozen by the
importing thread; the same when the figures fail."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reporter.production import _Collector

SCRIPT = """
import gc, json, sys
from datetime import UTC, datetime
from reporter.db import make_engine, upgrade
from reporter.demo import load_demo
from reporter.errors import ReporterError
from reporter.production import produce

engine = make_engine(sys.argv[1])
upgrade(engine)
load_demo(engine, 30, 1)
before = {"weasyprint": "weasyprint" in sys.modules, "matplotlib": "matplotlib" in sys.modules}
try:
    report = produce(engine, sys.argv[2], None, None, "UTC", ("html", "pdf"), datetime(2026, 11, 28, tzinfo=UTC))
    files = sorted(report.files)
except ReporterError as exc:
    files = [f"error: {exc}"]
print(json.dumps({
    "before": before,
    "after": {"weasyprint": "weasyprint" in sys.modules, "matplotlib": "matplotlib" in sys.modules},
    "collecting": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "files": files,
}))
"""


def run(tmp_path: Path, campaign: str) -> dict[str, object]:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    out = subprocess.run([sys.executable, "-c", SCRIPT, db, campaign], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_a_fresh_process_imports_rendering_while_computing_and_collects_again(tmp_path: Path) -> None:
    result = run(tmp_path, "welcome-series")
    assert result["before"] == {"weasyprint": False, "matplotlib": False}
    assert result["after"] == {"weasyprint": True, "matplotlib": True}
    assert result["collecting"] is True
    assert isinstance(result["frozen"], int) and result["frozen"] > 100_000  # the libraries' objects
    files = result["files"]
    assert isinstance(files, list) and [Path(name).suffix for name in files] == [".html", ".pdf"]
    assert all(name.startswith("welcome-series_") for name in files)


def test_figures_that_fail_leave_the_collector_as_it_was(tmp_path: Path) -> None:
    result = run(tmp_path, "no-such-campaign")
    files = result["files"]
    assert isinstance(files, list) and files[0].startswith("error: unknown campaign 'no-such-campaign'")
    assert result["collecting"] is True
    # The rendering modules were imported meanwhile all the same: frozen once, by the thread that imported them.
    assert result["after"] == {"weasyprint": True, "matplotlib": True}
    assert isinstance(result["frozen"], int) and result["frozen"] > 100_000


def test_the_collector_rests_until_the_last_thread_importing_is_done() -> None:
    collector = _Collector()
    assert gc.isenabled()
    try:
        collector.rest()
        collector.rest()  # a second thread's report starts while the first's modules import
        collector.resume()
        assert not gc.isenabled()
        collector.resume()
        assert gc.isenabled()
        gc.disable()  # off by the program's own choice: left off
        collector.rest()
        collector.resume()
        assert not gc.isenabled()
    finally:
        gc.enable()


TWO_THREADS = """
import gc, json, sys, threading
from datetime import UTC, datetime
from reporter.db import make_engine, upgrade
from reporter.demo import load_demo
from reporter.production import produce

engine = make_engine(sys.argv[1])
upgrade(engine)
load_demo(engine, 30, 1)
files = []
def report(campaign):
    at = datetime(2026, 11, 28, tzinfo=UTC)
    files.extend(produce(engine, campaign, None, None, "UTC", ("html", "pdf"), at).files)
threads = [threading.Thread(target=report, args=(c,)) for c in ("welcome-series", "cart-reminder")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"files": len(files), "collecting": gc.isenabled(), "frozen": gc.get_freeze_count() > 0}))
"""


def test_two_reports_at_once_in_a_fresh_process(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    out = subprocess.run([sys.executable, "-c", TWO_THREADS, db], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"files": 4, "collecting": True, "frozen": True}, out.stderr


def test_an_in_memory_database_gets_its_previous_card_from_its_own_connection() -> None:
    # In-memory SQLite exists for one connection: the card, computed on another thread elsewhere, must not be.
    from datetime import UTC, datetime

    from reporter.db import make_engine, upgrade
    from reporter.demo import load_demo
    from reporter.production import produce

    engine = make_engine("sqlite://")
    upgrade(engine)
    load_demo(engine, 30, 1)
    report = produce(engine, "welcome-series", None, None, "UTC", ("html",), datetime(2026, 11, 28, tzinfo=UTC))
    assert report.stats is not None and report.stats.totals.sent > 0
    assert [Path(name).suffix for name in report.files] == [".html"]


THROUGH_A_COPY = """
import gc, json, os, sys
from datetime import UTC, datetime
from pathlib import Path
from reporter.db import make_engine, upgrade, with_copy
from reporter.demo import load_demo
from reporter.production import previous_stats, produce

engine = make_engine(sys.argv[1])
upgrade(engine)
load_demo(engine, 30, 1)
fast = with_copy(engine, Path(sys.argv[2]))
report = produce(fast, "black-friday-ab", None, None, "UTC", ("html", "pdf"), datetime(2026, 11, 28, tzinfo=UTC))
print(json.dumps({
    "files": sorted(report.files),
    "variants": len(report.stats.variants),
    "same_card": report.rendered.html == __import__("reporter.render").render.render_html(
        report.stats, previous_stats(engine, report.stats), report.rendered.generated_at
    ).html,
    "scipy": "scipy" in sys.modules,
    "allocator": os.environ.get("DUCKDB_JE_MALLOC_CONF"),
    "collecting": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
}))
"""


def test_a_report_through_a_columnar_copy_in_a_fresh_process(tmp_path: Path) -> None:
    # The figures and the previous period's card on one connection, the rendering modules imported beside the
    # lighter queries (tests/metrics/test_columnar.py checks the order), the collector back and the libraries
    # frozen as on the other path.
    db = f"sqlite:///{tmp_path / 'c.db'}"
    out = subprocess.run(
        [sys.executable, "-c", THROUGH_A_COPY, db, str(tmp_path / "copy.duckdb")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [Path(name).suffix for name in result["files"]] == [".html", ".pdf"]
    assert result["variants"] >= 2 and result["same_card"] is True  # the card is the database's own
    assert result["scipy"] is False  # the A/B statistics need NumPy only
    assert result["allocator"] == "dirty_decay_ms:0,muzzy_decay_ms:0"
    assert result["collecting"] is True and result["frozen"] > 100_000


def test_an_import_thread_that_cannot_start_leaves_the_collector_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from reporter import production

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    imports = production.RenderingImports(pdf=True)
    imports._missing = ["reporter.not_a_module"]  # as in a fresh process, whatever this one imported already
    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="can't start new thread"):
        try:
            imports.start()
        finally:
            imports.finish()  # what produce does on its way out
    assert gc.isenabled() and production._collector._resting == 0

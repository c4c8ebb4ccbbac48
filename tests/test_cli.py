"""The `reporter` command: exit codes, one-line errors, the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporter.db import HEAD_REVISION

DATA = Path(__file__).parent / "data"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=300
    )


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run(["load", "events", "missing.csv"], tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: missing.csv: no such file\n"
    assert "Traceback" not in result.stderr


def test_wrong_header_names_file_and_column(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("campaign_id,user,event,ts\n")
    result = run(["load", "events", "events.csv"], tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: events.csv: wrong header: unknown column 'user'\n"


def test_unknown_campaign_in_events_is_a_counted_reject(tmp_path: Path) -> None:
    assert run(["load", "campaigns", str(DATA / "campaigns.csv")], tmp_path).returncode == 0
    (tmp_path / "events.csv").write_text(
        "campaign_id,user_id,event,ts\nc-single,u1,sent,2026-11-02T10:00:00Z\nnope,u1,sent,2026-11-02T10:00:00Z\n"
    )
    result = run(["load", "events", "events.csv"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "loaded 1 events, skipped 0 duplicates, rejected 1 (see events.csv.rejects.csv)" in result.stdout
    assert "1  unknown campaign 'nope'" in result.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run(["--debug", "load", "events", "missing.csv"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_bad_option_is_usage_error_exit_2(tmp_path: Path) -> None:
    result = run(["demo", "--users", "zero"], tmp_path)
    assert result.returncode == 2
    assert "Invalid value for '--users'" in result.stderr


def test_unreachable_database_is_exit_2(tmp_path: Path) -> None:
    result = run(["--db", f"sqlite:///{tmp_path}/no/such/dir/x.db", "campaigns"], tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"error: --db: folder '{tmp_path}/no/such/dir' does not exist\n"
    (tmp_path / "reporter.yaml").write_text("database:\n  url: 'not a url'\n")
    result = run(["--config", "reporter.yaml", "campaigns"], tmp_path)
    assert (result.returncode, result.stderr) == (2, "error: database.url: not a database URL: 'not a url'\n")


def test_postgres_without_migration_asks_for_db_upgrade(postgres_url: str, tmp_path: Path) -> None:
    result = run(["--db", postgres_url, "campaigns"], tmp_path)
    assert result.returncode == 2
    needs = f"this version needs {HEAD_REVISION}: run `reporter db upgrade`"
    assert result.stderr == f"error: the database is empty, {needs}\n"
    assert run(["--db", postgres_url, "db", "upgrade"], tmp_path).returncode == 0
    assert run(["--db", postgres_url, "campaigns"], tmp_path).returncode == 0


def test_demo_creates_the_database_lists_campaigns_and_renders_reports(tmp_path: Path) -> None:
    result = run(["demo", "--users", "300"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reporter.db").exists()
    assert "welcome-series" in result.stdout and "black-friday-ab" in result.stdout
    root = tmp_path / "reports"
    paths = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(str(root))]
    assert len(paths) == 9  # three campaigns, PDF and HTML each, and their portfolio (PDF, HTML, XLSX), as the job demo
    for path in paths:
        assert Path(path).stat().st_size > 10_000 and Path(path).relative_to(root).parts[0] == "demo"
    assert any(p.endswith(".pdf") and "black-friday-ab" in p for p in paths)
    from reporter.delivery.archive import Archive

    assert sorted(r.campaign_id for r in Archive(root).runs()) == [
        "@portfolio",
        "black-friday-ab",
        "cart-reminder",
        "welcome-series",
    ]
    assert any(p.endswith(".xlsx") and "portfolio" in p for p in paths)
    # The portfolio is the week of the last sends (the demo sends on the 30 days from Oct 1), not of the late
    # conversions and errors after them.
    assert all("/2026-10-24..2026-10-30/" in p for p in paths if "portfolio" in p)
    assert "reporter serve" in result.stdout.splitlines()[-1]  # what to open next
    again = run(["demo"], tmp_path)
    assert "demo data: already loaded" in again.stdout and "--reset rebuilds it" in again.stdout
    other = run(["demo", "--seed", "2"], tmp_path)  # another data set cannot be mixed into the loaded one
    assert (other.returncode, other.stderr) == (
        2,
        "error: --seed: the demo data is already loaded (2,826 events), so "
        "it does not apply; add --reset to rebuild it\n",
    )
    reset = run(["demo", "--seed", "2", "--users", "200", "--reset"], tmp_path)
    assert reset.returncode == 0 and "demo data: 1,912 events loaded" in reset.stdout
    listing = run(["campaigns"], tmp_path)
    assert listing.returncode == 0
    assert "Black Friday teaser (A/B)" in listing.stdout


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo")
    assert run(["demo", "--users", "300"], path).returncode == 0
    return path


def test_stats_json_is_one_document_on_stdout(demo_dir: Path) -> None:
    import json

    result = run(
        ["stats", "black-friday-ab", "--json", "--from", "2026-10-05", "--to", "2026-10-12", "--tz", "Europe/Berlin"],
        demo_dir,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["period"] == {
        "from": "2026-10-05T00:00:00+02:00",
        "to": "2026-10-12T00:00:00+02:00",
        "timezone": "Europe/Berlin",
    }
    assert [v["variant"] for v in doc["variants"]] == ["A", "B", "C"]
    assert next(b["bucket"] for b in doc["trend"]["daily"]) == "2026-10-05"


def test_stats_human_table(demo_dir: Path) -> None:
    result = run(["stats", "welcome-series"], demo_dir)
    assert result.returncode == 0, result.stderr
    assert "Sent conversions" in result.stdout and "Welcome series" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stats", "nope"], "error: unknown campaign 'nope' (see `reporter campaigns` for the loaded ones)\n"),
        (
            ["stats", "welcome-series", "--tz", "Mars/Olympus"],
            "error: --tz: unknown timezone 'Mars/Olympus' (expected an IANA name such as Europe/Berlin)\n",
        ),
        (
            ["stats", "welcome-series", "--from", "2026-10-05", "--to", "2026-10-05"],
            "error: --from/--to: the period is empty: from 2026-10-05T00:00:00+00:00 is not before to "
            "2026-10-05T00:00:00+00:00\n",
        ),
        (
            ["stats", "welcome-series", "--from", "last tuesday"],
            "error: --from: not a date or ISO 8601 timestamp: 'last tuesday'\n",
        ),
    ],
)
def test_stats_bad_input_is_one_line_exit_2(demo_dir: Path, args: list[str], message: str) -> None:
    result = run(args, demo_dir)
    assert result.returncode == 2
    assert result.stderr == message


def test_render_writes_the_requested_formats(demo_dir: Path) -> None:
    result = run(
        ["render", "welcome-series", "--from", "2026-10-05", "--to", "2026-10-12", "--format", "pdf", "--out", "out"],
        demo_dir,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "out/welcome-series_2026-W41.pdf\n"
    assert (demo_dir / "out" / "welcome-series_2026-W41.pdf").read_bytes().startswith(b"%PDF")
    assert not list((demo_dir / "out").glob("*.html"))


def test_render_rejects_unknown_format(demo_dir: Path) -> None:
    result = run(["render", "welcome-series", "--format", "docx"], demo_dir)
    assert result.returncode == 2
    assert result.stderr == "error: --format: unknown format 'docx' (expected pdf, html, csv or xlsx)\n"


def test_the_configs_timezone_is_the_default_of_stats(demo_dir: Path) -> None:
    import json

    config = demo_dir / "tokyo.yaml"
    config.write_text("timezone: Asia/Tokyo\n")
    doc = json.loads(run(["--config", str(config), "stats", "cart-reminder", "--json"], demo_dir).stdout)
    assert doc["period"]["timezone"] == "Asia/Tokyo" and doc["period"]["from"].endswith("+09:00")
    utc = json.loads(run(["--config", str(config), "stats", "cart-reminder", "--json", "--tz", "UTC"], demo_dir).stdout)
    assert utc["period"]["timezone"] == "UTC"


def test_history_of_an_unknown_job_is_exit_2(demo_dir: Path) -> None:
    config = demo_dir / "jobs.yaml"
    config.write_text("jobs:\n  - name: daily\n    schedule: hourly\n")
    result = run(["--config", str(config), "history", "nojob"], demo_dir)
    assert (result.returncode, result.stderr) == (
        2,
        "error: unknown job 'nojob': no such job in the config (daily) and none in the run log\n",
    )
    known = run(["--config", str(config), "history", "daily"], demo_dir)
    assert (known.returncode, known.stdout) == (0, "no runs of daily yet\n")


def test_serve_prints_its_url_and_a_busy_port_is_one_line(demo_dir: Path) -> None:
    import socket

    config = demo_dir / "web.yaml"
    config.write_text("web:\n  anonymous: true\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(["--config", str(config), "serve", "--port", str(port)], demo_dir)
    assert (result.returncode, result.stderr) == (
        2,
        f"error: --port: cannot listen on 127.0.0.1:{port}: the port is in use (another `reporter serve`?); "
        "choose another with --port\n",
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "reporter", "--config", str(config), "serve", "--port", str(port)],
        cwd=demo_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    try:
        assert server.stdout.readline() == f"serving the report archive on http://127.0.0.1:{port}/ (Ctrl-C stops)\n"
        import httpx

        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_mistyped_option_is_one_line_naming_the_help(demo_dir: Path) -> None:
    result = run(["stats", "--frm", "2026-10-01"], demo_dir)
    assert (result.returncode, result.stderr) == (
        2,
        "error: No such option '--frm'. Did you mean '--from'? (see reporter stats --help)\n",
    )
    out = run(["render", "cart-reminder", "--out", "/proc/no-such-folder"], demo_dir)
    assert (out.returncode, out.stderr) == (
        2,
        "error: --out: cannot write into /proc/no-such-folder: No such file or directory\n",
    )


def test_serve_refuses_a_web_app_nobody_could_log_into(demo_dir: Path) -> None:
    config = demo_dir / "nobody.yaml"
    config.write_text("web:\n  anonymous: false\n")
    result = run(["--config", str(config), "serve"], demo_dir, env={"REPORTER_WEB_SECRET": "x" * 32})
    assert (result.returncode, result.stderr) == (
        2,
        "error: web: nobody could log in: add web.users (see `reporter hash-password`) or set web.anonymous: true\n",
    )

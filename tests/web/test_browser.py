"""A real browser (Debian's Chromium driven by Playwright): log in, filter, open, download, run a job, log out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORDS, make_client, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def server(tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    with serving(make_client(tmp_path, demo_url, hashes, monkeypatch).app) as base:
        yield base


def test_manager_and_operator_in_a_real_browser(server: str, tmp_path: Path) -> None:
    import os

    if not Path(CHROMIUM).exists():
        if os.environ.get("REPORTER_REQUIRE_BROWSER") == "1":  # CI installs it: a missing browser is a failure there
            pytest.fail("Debian chromium is not installed")
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        page = browser.new_context(accept_downloads=True).new_page()
        page.goto(server + "/")
        assert page.locator("h1").inner_text() == "Log in"
        page.fill("input[name=name]", "otto")
        page.fill("input[name=password]", PASSWORDS["otto"])
        page.click("button[type=submit]")
        page.wait_for_url(server + "/")
        assert "Report archive" in page.inner_text("h1")
        # Filter the archive.
        page.select_option("select[name=job]", "daily")
        page.fill("input[name=campaign]", "campaign-2")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/?job=daily&campaign=campaign-2*")
        rows = page.locator("tbody tr")
        assert rows.count() == 10
        assert "Page 1 of 1 · 10 reports" in page.inner_text(".pager")
        # Open a report: the archived HTML in a frame, the PDF to download.
        rows.first.locator("td a").first.click()
        page.wait_for_selector("iframe.report")
        frame = page.frame_locator("iframe.report")
        assert "report" in frame.locator("p").inner_text()
        with page.expect_download() as download_info:
            page.click("text=Download PDF")
        download = download_info.value
        target = tmp_path / "downloaded.pdf"
        download.save_as(target)
        assert download.suggested_filename == "campaign-2.pdf" and target.read_bytes().startswith(b"%PDF")
        # Run a job as operator and see it in the history.
        page.click("text=Jobs")
        page.click("form[action='/jobs/archive-only/run'] button")
        page.wait_for_url("**/history?job=archive-only*")
        assert page.locator("tbody tr").count() == 1
        row = page.inner_text("tbody tr")
        assert "archive-only" in row and "cart-reminder" in row and "stored" in row
        page.screenshot(path=str(Path(os.environ.get("REPORTER_SCREENSHOTS", tmp_path)) / "web-history.png"), full_page=True)
        page.goto(server + "/")
        page.screenshot(path=str(Path(os.environ.get("REPORTER_SCREENSHOTS", tmp_path)) / "web-archive.png"))
        # Log out (a form with the CSRF token): the session is over.
        page.click("text=Log out")
        page.wait_for_url(server + "/login")
        page.goto(server + "/jobs")
        assert page.locator("h1").inner_text() == "Log in"
        browser.close()

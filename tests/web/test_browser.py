"""A real browser (Debian's Chromium driven by Playwright): log in, filter, open, download, run a job, log out.

Every page on the way passes axe-core's accessibility rules (WCAG 2.2 target size included) and writes no
error to the console but the two 401s of the login page shown in place of a page that needs a login.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.vnu import node_resolve, unavailable
from tests.web.conftest import PASSWORDS, make_client, serving

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOWNLOADS = "a[href$='?download=1']"  # the links to a report's files


@pytest.fixture
def server(tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    with serving(make_client(tmp_path, demo_url, hashes, monkeypatch).app) as base:
        yield base


def test_manager_and_operator_in_a_real_browser(server: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        unavailable("Debian chromium is not installed")  # a failure in CI, which installs it
    axe = node_resolve("require.resolve('axe-core/axe.min.js')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        context = browser.new_context(accept_downloads=True)
        # axe-core in every page before its own content: an injected <script> would be refused by the app's CSP
        # (no inline scripts), and bypass_csp would switch off the CSP this test should see the pages work under.
        context.add_init_script(path=axe)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        violations: list[str] = []
        page.goto(server + "/")
        assert page.locator("h1").inner_text() == "Log in"
        violations += axe_violations(page)
        page.fill("input[name=name]", "otto")
        page.fill("input[name=password]", PASSWORDS["otto"])
        page.click("button[type=submit]")
        page.wait_for_url(server + "/")
        assert "Report archive" in page.inner_text("h1")
        violations += axe_violations(page)
        # Filter the archive.
        page.select_option("select[name=job]", "daily")
        page.fill("input[name=campaign]", "campaign-2")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/?job=daily&campaign=campaign-2*")
        rows = page.locator("tbody tr")
        assert rows.count() == 10
        assert "Page 1 of 1 · 10 reports" in page.inner_text(".pager")
        violations += axe_violations(page)
        assert small_targets(page, DOWNLOADS) == [] and page.locator(DOWNLOADS).count() == 20
        # Open a report: the archived HTML in a frame, the PDF to download.
        rows.first.locator("td a").first.click()
        page.wait_for_selector("iframe.report")
        frame = page.frame_locator("iframe.report")
        assert "report" in frame.locator("p").inner_text()
        violations += axe_violations(page)
        assert small_targets(page, DOWNLOADS) == [] and page.locator(DOWNLOADS).count() == 2
        with page.expect_download() as download_info:
            page.click("text=Download PDF")
        download = download_info.value
        target = tmp_path / "downloaded.pdf"
        download.save_as(target)
        assert download.suggested_filename == "campaign-2.pdf" and target.read_bytes().startswith(b"%PDF")
        # The campaigns, then one campaign's runs over time with its files.
        page.click("header.top a[href='/campaigns']")
        page.wait_for_url(server + "/campaigns")
        assert page.locator("tbody tr").count() == 3
        violations += axe_violations(page)
        page.click("a[href='/campaigns/campaign-2']")
        page.wait_for_url(server + "/campaigns/campaign-2")
        assert page.locator("tbody tr").count() == 20
        violations += axe_violations(page)
        assert small_targets(page, DOWNLOADS) == [] and page.locator(DOWNLOADS).count() == 40
        # Run a job as operator and see it in the history.
        page.click("text=Jobs")
        violations += axe_violations(page)
        page.click("form[action='/jobs/archive-only/run'] button")
        page.wait_for_url("**/history?job=archive-only*")
        assert page.locator("tbody tr").count() == 1
        row = page.inner_text("tbody tr")
        assert "archive-only" in row and "cart-reminder" in row and "stored" in row
        violations += axe_violations(page)
        page.screenshot(
            path=str(Path(os.environ.get("REPORTER_SCREENSHOTS", tmp_path)) / "web-history.png"), full_page=True
        )
        page.goto(server + "/")
        page.screenshot(path=str(Path(os.environ.get("REPORTER_SCREENSHOTS", tmp_path)) / "web-archive.png"))
        # Log out (a form with the CSRF token): the session is over.
        page.click("text=Log out")
        page.wait_for_url(server + "/login")
        page.goto(server + "/jobs")
        assert page.locator("h1").inner_text() == "Log in"
        browser.close()
    assert violations == [], "\n".join(violations)
    errors = [m for m in console if m.startswith("error")]
    assert len(errors) == 2 and all("status of 401 (Unauthorized)" in m for m in errors), console


def small_targets(page: Page, selector: str) -> list[str]:
    """The elements that are less than 24 by 24 CSS pixels (WCAG 2.2 target size), with their size."""
    sizes = [(e.inner_text(), e.bounding_box() or {"width": 0, "height": 0}) for e in page.locator(selector).all()]
    return [f"{text}: {b['width']:.0f}x{b['height']:.0f}" for text, b in sizes if min(b["width"], b["height"]) < 24]


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations on the page: its default rules and the target size (not inside the archived report's
    frame, which may run no script: that is the report templates' HTML, not the app's)."""
    page.wait_for_load_state("load")  # after a click the next page may still be loading: axe needs its document
    result = page.evaluate("() => axe.run(document, {iframes: false, rules: {'target-size': {enabled: true}}})")
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']}: {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
    ]

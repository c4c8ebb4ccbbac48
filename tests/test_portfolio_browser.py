"""The portfolio report's HTML in a real browser (Chromium): sorting by CSS alone, and axe-core's rules."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from reporter.metrics.model import Period
from reporter.metrics.portfolio import portfolio
from reporter.portfolio_report import render_portfolio
from tests.test_portfolio_report import GENERATED, WEEK, demo  # noqa: F401
from tests.vnu import node_resolve, unavailable
from tests.web.test_browser import CHROMIUM, axe_violations, small_targets


def test_the_table_sorts_without_script_and_passes_axe(demo: tuple[Engine, str], tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        unavailable("Debian chromium is not installed")
    engine, _ = demo
    figures = portfolio(engine, Period(*WEEK, "UTC"))
    path = tmp_path / "portfolio.html"
    path.write_text(render_portfolio(figures, GENERATED).html, encoding="utf-8")
    by_sent = [r.campaign.name for r in sorted(figures.rows, key=lambda r: -r.card.sent)]
    by_ctr = [r.campaign.name for r in sorted(figures.rows, key=lambda r: -(r.card.ctr or 0))]
    by_name = sorted(r.campaign.name for r in figures.rows)
    assert len({tuple(by_sent), tuple(by_ctr), tuple(by_name)}) == 3  # the demo's week tells the orders apart
    axe = node_resolve("require.resolve('axe-core/axe.min.js')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-quic"]
        )
        context = browser.new_context(java_script_enabled=True, viewport={"width": 1280, "height": 900})
        context.add_init_script(path=axe)  # axe-core only: the report itself runs no script
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())

        def shown() -> list[str]:
            cells = page.locator(".portfolio-table tbody td:first-child b").all()
            placed = sorted(((c.bounding_box() or {"y": 0})["y"], c.inner_text()) for c in cells)
            return [name for _, name in placed]

        assert shown() == by_sent
        page.locator("label[for=sort-ctr]").click()
        assert shown() == by_ctr
        page.locator("label[for=sort-name]").click()
        assert shown() == by_name
        assert axe_violations(page) == []
        assert small_targets(page, ".sortbar label") == []
        assert errors == []
        browser.close()

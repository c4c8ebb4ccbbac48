"""Every page of the web app through the Nu HTML Checker (tests/vnu.py): no error, as each role sees it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.delivery.conftest import SmtpServer, smtp_server  # noqa: F401
from tests.vnu import vnu, vnu_errors
from tests.web.conftest import csrf_of, login, make_client
from tests.web.test_history import MAILED_JOB

# What the checker says about paged-media CSS it does not know (WeasyPrint's reports use it), beside real errors.
PAGED_MEDIA_CSS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Paged</title>
<style>
@page { size: A4; margin: 18mm 14mm;
  @top-left { content: string(campaign); width: 62%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  @top-right { content: "Period: " string(period, first); }
  @bottom-left { content: element(footer); }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); }
  @footnote { border-top: 1px solid; } }
@page :first { margin-top: 30mm; }
.campaign { string-set: campaign content(); }
.footer { position: running(footer); }
.note { float: footnote; }
h1 { bookmark-level: 1; bookmark-label: content(); bookmark-state: open; break-after: avoid; }
.cell { text-overflow: ellipsis; overflow: hidden; }
/* more */
</style></head>
<body><h1 class="campaign">Black Friday</h1><p class="footer">Acme Inc.</p></body></html>
"""
REAL_CSS_ERRORS = """@page { @top-center { colr: red; content: strng(period); } }
.period { string-sett: period content(); text-overflow: elipsis; }"""


def test_paged_media_css_is_all_the_checker_helper_ignores(tmp_path: Path) -> None:
    """The same document without and with real CSS errors: only the real ones are reported, inside @page too."""
    assert vnu_errors([PAGED_MEDIA_CSS, PAGED_MEDIA_CSS.replace("/* more */", REAL_CSS_ERRORS)], tmp_path) == [
        "document-2.html:16: CSS: “colr”: Property “colr” doesn't exist.",
        "document-2.html:16: CSS: “content”: “strng(period)” is not a “content” value.",
        "document-2.html:17: CSS: “string-sett”: Property “string-sett” doesn't exist.",
        "document-2.html:17: CSS: “text-overflow”: “elipsis” is not a “text-overflow” value.",
    ]


def test_every_page_is_valid_html(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer
) -> None:
    vnu()  # skip (or fail in CI) before the work when the checker is missing
    smtp_server.handler.refuse = {"cc@example.com"}
    smtp = (
        f"smtp:\n  host: {smtp_server.host}\n  port: {smtp_server.port}\n  security: none\n"
        "  from: reports@example.com\n  retries: 0\n"
    )
    pages: dict[str, str] = {}

    def keep(name: str, response: httpx.Response, status: int, shows: str) -> None:
        assert (response.status_code, shows in response.text) == (status, True), name
        pages[name] = response.text

    (tmp_path / "anonymous").mkdir()
    anonymous = make_client(tmp_path / "anonymous", demo_url, hashes, monkeypatch, anonymous=True)
    keep("anonymous-archive", anonymous.get("/"), 200, "anonymous (viewer)")
    client = make_client(tmp_path, demo_url, hashes, monkeypatch, jobs=MAILED_JOB, extra=smtp)
    keep("login", client.get("/login"), 200, "Log in")
    keep("login-required", client.get("/history"), 401, 'name="next" value="/history"')
    wrong = {"csrf": csrf_of(client, "/login"), "name": "otto", "password": "wrong", "next": "/"}
    keep("login-refused", client.post("/login", data=wrong), 401, "Wrong name or password.")
    login(client, "otto")
    keep("jobs-operator", client.get("/jobs"), 200, "Run now")
    run = client.post("/jobs/mailed/run", data={"csrf": csrf_of(client)})
    keep("history-operator", client.get(run.headers["location"]), 200, "cc@example.com")
    login(client, "vera")
    keep("archive", client.get("/"), 200, "Older →")
    keep("archive-filtered", client.get("/?campaign=campaign&page=2"), 200, "← Newer")
    folder = client.get("/api/runs?job=mailed").json()["runs"][0]["folder"]
    keep("report", client.get(f"/reports/{folder}"), 200, "Download PDF")
    keep("campaigns", client.get("/campaigns"), 200, "campaign-2")
    keep("campaign", client.get("/campaigns/campaign-1"), 200, "campaign-1.pdf")
    keep("campaign-not-found", client.get("/campaigns/no-such-campaign"), 404, "Back to the campaigns")
    keep("history-viewer", client.get("/history"), 200, "2 sent · 1 failed")
    keep("jobs-viewer", client.get("/jobs"), 200, "mailed")
    keep("alerts", client.get("/alerts"), 200, "No alert rule has been evaluated yet.")
    keep("not-found", client.get("/reports/no/such/run"), 404, "No such report")
    index = tmp_path / "archive" / "index.json"
    index.unlink()
    index.mkdir()  # an archive that cannot be read
    keep("unavailable", client.get("/"), 503, "The archive cannot be read")
    assert "Run now" not in pages["jobs-viewer"] and "cc@example.com" not in pages["history-viewer"]

    for name, html in pages.items():
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")
    errors = vnu_errors([tmp_path / f"{name}.html" for name in pages])
    assert errors == [], "\n".join(errors)

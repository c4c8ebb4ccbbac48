"""A report's page and its files: downloads, the archived HTML's own CSP, no path outside the index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import login


def test_report_page_and_downloads(client: TestClient) -> None:
    login(client, "vera")
    run = client.get("/api/runs?job=daily&campaign=campaign-1").json()["runs"][0]
    page = client.get(f"/reports/{run['folder']}")
    assert page.status_code == 200 and 'iframe class="report"' in page.text and "Download PDF" in page.text
    pdf = client.get(f"/reports/{run['folder']}/campaign-1.pdf?download=1")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="campaign-1.pdf"'
    assert pdf.content.startswith(b"%PDF")
    html = client.get(f"/reports/{run['folder']}/campaign-1.html")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["content-disposition"] == 'inline; filename="campaign-1.html"'
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert client.get(f"/reports/{run['folder']}/manifest.json").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/reports/daily/campaign-1/2026-10-02/../../../../etc/passwd",
        "/reports/daily/campaign-1/2026-10-02/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/reports/%2e%2e/%2e%2e/%2e%2e/passwd",
        "/reports/daily/campaign-1/..%2f..%2f..%2findex.json/x",
        "/reports//etc/passwd/x",
        "/reports/daily/campaign-1/2026-10-02/%2Fetc%2Fpasswd",
        "/reports/daily/campaign-1/2026-10-02/index.json",
    ],
)
def test_traversal_attempts_are_refused(client: TestClient, path: str) -> None:
    login(client, "vera")
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and '"runs"' not in response.text


def test_exports_download_as_themselves(client: TestClient, tmp_path) -> None:
    from reporter.delivery.archive import Archive

    root = next(p for p in tmp_path.iterdir() if p.is_dir() and (p / "index.json").exists())
    Archive(root).store(
        "weekly-portfolio",
        "@portfolio",
        "Campaign portfolio",
        "2026-W41",
        "UTC",
        datetime(2026, 11, 26, 7, tzinfo=UTC),
        {"portfolio_2026-W41.csv.zip": b"PK\x05\x06" + bytes(18), "portfolio_2026-W41.xlsx": b"PK xlsx"},
    )
    login(client, "vera")
    listing = client.get("/?job=weekly-portfolio").text
    assert ">CSV</a>" in listing and ">XLSX</a>" in listing
    (run,) = client.get("/api/runs?job=weekly-portfolio").json()["runs"]
    folder = run["folder"]
    for name, content_type in (
        ("portfolio_2026-W41.csv.zip", "application/zip"),
        ("portfolio_2026-W41.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ):
        response = client.get(f"/reports/{folder}/{name}?download=1")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == content_type
        assert response.headers["content-disposition"] == f'attachment; filename="{name}"'

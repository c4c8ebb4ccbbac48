"""A report's page and its files: downloads, the archived HTML's own CSP, no path outside the index."""

from __future__ import annotations

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

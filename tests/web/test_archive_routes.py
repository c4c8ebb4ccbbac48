"""The archive page and /api/runs: newest first, paginated, filtered by job, campaign and dates."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.web.conftest import login


def test_listing_newest_first_paginated_and_filtered(client: TestClient) -> None:
    login(client, "vera")
    data = client.get("/api/runs").json()
    assert (data["total"], data["pages"], len(data["runs"])) == (60, 2, 50)
    generated = [r["generated_at"] for r in data["runs"]]
    assert generated == sorted(generated, reverse=True)
    second = client.get("/api/runs?page=2").json()
    assert len(second["runs"]) == 10
    daily = client.get("/api/runs?job=daily").json()
    assert daily["total"] == 30 and {r["job"] for r in daily["runs"]} == {"daily"}
    one = client.get("/api/runs?campaign=campaign-1&job=daily").json()
    assert one["total"] == 10 and {r["campaign_id"] for r in one["runs"]} == {"campaign-1"}
    dated = client.get("/api/runs?from=2026-11-20&to=2026-11-26").json()
    assert dated["total"] == 7
    assert client.get("/api/runs?from=yesterday").status_code == 400
    html = client.get("/?job=daily&page=1").text
    assert "Page 1 of 1" in html and "30 reports" in html
    assert "Campaign 1 &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


def test_an_unreadable_archive_answers_503_not_500(client: TestClient, tmp_path) -> None:
    """A damaged index is rebuilt (test_archive_faults); one that cannot be read at all is a 503 with Retry-After."""
    login(client, "vera")
    index = tmp_path / "archive" / "index.json"
    index.unlink()
    index.mkdir()  # root reads any file; a folder where the index should be cannot be read by anyone
    page = client.get("/")
    assert (page.status_code, page.headers["retry-after"]) == (503, "60")
    assert "The archive cannot be read at the moment" in page.text and str(tmp_path) not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    api = client.get("/api/runs")
    assert (api.status_code, api.json()) == (503, {"error": "the archive cannot be read at the moment"})
    index.rmdir()
    assert client.get("/").status_code == 200

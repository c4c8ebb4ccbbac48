"""The campaign pages: the campaigns with archived runs, one campaign's runs over time, links, 404s, escaping."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reporter.delivery.archive import Archive
from tests.web.conftest import T, login


def rows(html: str) -> list[str]:
    """The body rows of the page's table, their tags removed and their whitespace collapsed."""
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in body.split("<tr>")[1:]]


def test_campaigns_lists_each_archived_campaign_with_its_runs_and_latest(client: TestClient) -> None:
    login(client, "vera")
    page = client.get("/campaigns")
    assert page.status_code == 200
    # fill_archive: 60 runs, run i of campaign-(i % 3), generated T - i days, period 2026-10-(i % 28 + 1).
    assert rows(page.text) == [
        "Campaign 0 &lt;b&gt;bold&lt;/b&gt; campaign-0 20 2026-10-01 (UTC) 2026-11-26 07:00 (weekly)",
        "Campaign 1 &lt;b&gt;bold&lt;/b&gt; campaign-1 20 2026-10-02 (UTC) 2026-11-25 07:00 (daily)",
        "Campaign 2 &lt;b&gt;bold&lt;/b&gt; campaign-2 20 2026-10-03 (UTC) 2026-11-24 07:00 (weekly)",
    ]
    assert '<a href="/campaigns/campaign-1">' in page.text and "<b>bold</b>" not in page.text
    assert 'href="/campaigns" class="current"' in page.text


def test_campaign_page_lists_its_runs_newest_first_with_every_file(client: TestClient) -> None:
    login(client, "vera")
    page = client.get("/campaigns/campaign-1")
    assert page.status_code == 200
    listed = rows(page.text)
    expected = [  # runs 1, 4, 7, ... 58: alternately daily and weekly
        f"2026-10-{i % 28 + 1:02d} {'daily' if i % 2 else 'weekly'} {(T - timedelta(days=i)):%Y-%m-%d %H:%M} UTC "
        "campaign-1.pdf campaign-1.html"
        for i in range(1, 60, 3)
    ]
    assert listed == expected
    api = client.get("/api/runs?campaign=campaign-1").json()["runs"]
    for run in api:  # each run links to its report page and to each of its files, by name
        assert f'<a href="/reports/{run["folder"]}">' in page.text
        for artifact in run["artifacts"]:
            assert f'href="/reports/{run["folder"]}/{artifact["name"]}?download=1"' in page.text
    first = api[0]
    download = client.get(f"/reports/{first['folder']}/campaign-1.pdf?download=1")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert "<h1>Campaign 1 &lt;b&gt;bold&lt;/b&gt;</h1>" in page.text


def test_archive_rows_link_to_their_campaign_page(client: TestClient) -> None:
    login(client, "vera")
    html = client.get("/?campaign=campaign-2").text
    assert html.count('href="/campaigns/campaign-2"') == 20
    assert '<a href="/campaigns" class="">Campaigns</a>' in html  # the nav entry, not the current page


def test_campaign_pages_need_a_login(client: TestClient) -> None:
    for path in ("/campaigns", "/campaigns/campaign-1"):
        response = client.get(path)
        assert response.status_code == 401 and f'name="next" value="{path}"' in response.text
        assert "campaign-1.pdf" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/campaigns/no-such-campaign",
        "/campaigns/campaign-1/2026-10-02",
        "/campaigns/../index.json",
        "/campaigns/%2e%2e%2findex.json",
        "/campaigns/..%2f..%2f..%2fetc%2fpasswd",
        "/campaigns/%2Fetc%2Fpasswd",
        "/campaigns/CAMPAIGN-1",
    ],
)
def test_unknown_or_traversing_ids_are_a_404_page(client: TestClient, path: str) -> None:
    login(client, "vera")
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and '"runs"' not in response.text
    if path != "/campaigns/../index.json":  # that one the client resolves to /index.json, which no route serves
        assert "<h1>Not found</h1>" in response.text and "Back to the campaigns" in response.text


def test_an_unknown_id_is_shown_escaped(client: TestClient) -> None:
    login(client, "vera")
    response = client.get("/campaigns/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert response.status_code == 404
    assert "<script>" not in response.text and "“&lt;script&gt;alert(1)&lt;/script&gt;”" in response.text


def test_any_file_a_run_has_and_odd_ids_are_listed_and_linked(client: TestClient, tmp_path: Path) -> None:
    """Runs of other formats and portfolio runs: their files by name; an id with a slash, '?' and '#' round-trips."""
    login(client, "vera")
    archive = Archive(tmp_path / "archive")
    later = T + timedelta(days=1)
    files = {"portfolio.csv.zip": b"PK\x03\x04 csv", "portfolio.xlsx": b"PK\x03\x04 xlsx", "portfolio.pdf": b"%PDF"}
    archive.store("monthly", "portfolio", "All campaigns", "2026-11", "Europe/Berlin", later, files)
    odd = "spring/sale? #1 <i>"
    archive.store("daily", odd, "Spring sale", "2026-11-26", "UTC", later - timedelta(hours=1), {"odd.pdf": b"%PDF"})
    campaigns = client.get("/campaigns")
    assert rows(campaigns.text)[:2] == [
        "All campaigns portfolio 1 2026-11 (Europe/Berlin) 2026-11-27 07:00 (monthly)",
        "Spring sale spring/sale? #1 &lt;i&gt; 1 2026-11-26 (UTC) 2026-11-27 06:00 (daily)",
    ]
    assert len(rows(campaigns.text)) == 5  # the index changed: the remembered listing is not served again
    href = re.search(r'href="(/campaigns/spring[^"]*)"', campaigns.text)
    assert href is not None and href.group(1) == "/campaigns/spring/sale%3F%20%231%20%3Ci%3E"
    odd_page = client.get(href.group(1))
    assert odd_page.status_code == 200 and rows(odd_page.text) == ["2026-11-26 daily 2026-11-27 06:00 UTC odd.pdf"]
    portfolio = client.get("/campaigns/portfolio")
    run = archive.runs()[0]
    assert rows(portfolio.text) == [
        "2026-11 monthly 2026-11-27 07:00 Europe/Berlin portfolio.csv.zip portfolio.xlsx portfolio.pdf"
    ]
    for name, data in files.items():
        assert f'href="/reports/{run.folder}/{name}?download=1">{name}</a>' in portfolio.text
        download = client.get(f"/reports/{run.folder}/{name}?download=1")
        assert (download.status_code, download.content) == (200, data)


def test_a_long_history_is_paged(client: TestClient, tmp_path: Path) -> None:
    login(client, "vera")
    archive = Archive(tmp_path / "archive")
    for day in range(55):
        archive.store("daily", "long-runner", "Long", f"2026-09-{day:02d}", "UTC", T + timedelta(days=day), {})
    first = client.get("/campaigns/long-runner")
    assert len(rows(first.text)) == 50 and "Page 1 of 2 · 55 runs" in first.text
    assert rows(first.text)[0].startswith("2026-09-54 daily")
    second = client.get("/campaigns/long-runner?page=2")
    assert [r.split()[0] for r in rows(second.text)] == [f"2026-09-{d:02d}" for d in range(4, -1, -1)]
    assert client.get("/campaigns/long-runner?page=x").text == first.text


def test_an_empty_archive_says_so(client: TestClient, tmp_path: Path) -> None:
    login(client, "vera")
    (tmp_path / "archive" / "index.json").unlink()
    page = client.get("/campaigns")
    assert page.status_code == 200 and rows(page.text) == ["No reports in the archive yet."]
    assert client.get("/campaigns/campaign-1").status_code == 404


def test_an_unreadable_archive_answers_503(client: TestClient, tmp_path: Path) -> None:
    login(client, "vera")
    index = tmp_path / "archive" / "index.json"
    index.unlink()
    index.mkdir()
    for path in ("/campaigns", "/campaigns/campaign-1"):
        response = client.get(path)
        assert (response.status_code, response.headers["retry-after"]) == (503, "60")

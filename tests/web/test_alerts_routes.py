"""The alerts page and /api/alerts: the states and changes of the alert rules, for viewers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.web.conftest import login, make_client

ALERT = (
    "alerts:\n  - name: errors\n    schedule: hourly\n    campaigns: [cart-reminder]\n    metric: error_rate\n"
    "    condition: {above: 3}\n    window: last_month\n    min_volume: 100\n"
)


def test_viewers_see_states_and_changes(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reporter.alerts.check import check_rule
    from reporter.db import make_engine
    from reporter.settings import Settings

    client = make_client(tmp_path, demo_url, hashes, monkeypatch, extra=ALERT)
    assert client.get("/alerts").status_code == 401
    login(client, "vera")
    assert "No alert rule has been evaluated yet." in client.get("/alerts").text
    settings = Settings.model_validate(
        {
            "alerts": [
                {
                    "name": "errors",
                    "schedule": "hourly",
                    "campaigns": ["cart-reminder"],
                    "metric": "error_rate",
                    "condition": {"above": 3},
                    "window": "last_month",
                    "min_volume": 100,
                }
            ]
        }
    )
    engine = make_engine(demo_url)
    slot = datetime(2026, 11, 28, 9, tzinfo=UTC)
    [e] = check_rule(engine, settings, settings.alerts[0], slot, slot, tell=None)
    engine.dispose()
    html = client.get("/alerts").text
    assert '<span class="status alert-firing">firing</span>' in html
    assert f"{e.value:.2f}%" in html and "firing: not told yet" in html
    data = client.get("/api/alerts").json()
    assert [(s["rule"], s["campaign_id"], s["state"]) for s in data["states"]] == [
        ("errors", "cart-reminder", "firing")
    ]
    assert data["events"][0]["notice"] == "firing" and data["events"][0]["slot"] == slot.isoformat()

"""Alert notices to a named webhook destination: a real HTTP server on 127.0.0.1 gets each transition, signed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from reporter.alerts.check import check_rule
from reporter.alerts.tell import teller
from reporter.production import Production
from reporter.settings import Settings
from tests.alerts.test_check import data
from tests.delivery.receiver import serve, verify
from tests.metrics.helpers import T0

SECRET = "whsec_alerts_0123"


def test_firing_and_resolved_reach_the_webhook_once_each(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    data(engine)
    with serve() as receiver:
        monkeypatch.setenv("OPS_HOOK_URL", receiver.url)
        monkeypatch.setenv("OPS_HOOK_SECRET", SECRET)
        settings = Settings.model_validate(
            {
                "web": {"base_url": "https://reports.acme.test/"},
                "destinations": {
                    "ops": {"type": "webhook", "url_env": "OPS_HOOK_URL", "secret_env": "OPS_HOOK_SECRET"}
                },
                "alerts": [
                    {
                        "name": "errors",
                        "schedule": "hourly",
                        "campaigns": ["c"],
                        "metric": "error_rate",
                        "condition": {"above": 10},
                        "window": "last_1_hours",
                        "min_volume": 10,
                        "for": 2,
                        "notify": ["ops"],
                    }
                ],
            }
        )
        tell = teller(settings, Production.from_settings(settings, mail=False))
        for hour in range(1, 7):
            slot = T0 + timedelta(hours=hour)
            check_rule(engine, settings, settings.alerts[0], slot, slot, tell)
        bodies = [r.json for r in receiver.requests]
        assert [(b["kind"], b["title"]) for b in bodies] == [
            ("alert", "reporter alert errors firing: c"),
            ("alert", "reporter alert errors resolved: c"),
        ]
        assert bodies[0]["facts"] == [{"name": "state", "value": "firing"}, {"name": "error_rate", "value": "23.08%"}]
        assert bodies[0]["link"] == "https://reports.acme.test/alerts"
        assert bodies[0]["summary"][0].startswith("errors: c: error_rate 23.08% (error_rate above 10;")
        for r in receiver.requests:
            assert verify(SECRET.encode(), r.body, r.headers["X-Reporter-Timestamp"], r.headers["X-Reporter-Signature"])

"""Verdicts end to end through `reporter stats --json`, and the one sentence each verdict becomes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reporter.metrics.model import CampaignStats, Comparison
from reporter.render import render_email, render_html
from reporter.verdicts_text import ab_sentence, control_sentence
from tests.test_cli import run


def write_ab(tmp_path: Path, plan: dict[str, tuple[int, int]], splits: tuple[float, float] = (50, 50)) -> None:
    campaign = {
        "campaign_id": "t",
        "name": "Test",
        "type": "ab",
        "start_at": "2026-11-02T00:00:00Z",
        "variants": [{"variant": v, "name": f"Variant {v}", "split_pct": s} for v, s in zip("AB", splits, strict=True)],
    }
    (tmp_path / "campaigns.jsonl").write_text(json.dumps(campaign) + "\n")
    lines = []
    for variant, (sent, converted) in plan.items():
        for i in range(sent):
            lines.append(
                {
                    "campaign_id": "t",
                    "user_id": f"{variant}{i}",
                    "event": "sent",
                    "variant": variant,
                    "ts": "2026-11-02T10:00:00Z",
                }
            )
            if i < converted:
                lines.append(
                    {
                        "campaign_id": "t",
                        "user_id": f"{variant}{i}",
                        "event": "conversion",
                        "ts": "2026-11-02T11:00:00Z",
                    }
                )
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    for kind in ("campaigns", "events"):
        result = run(["load", kind, f"{kind}.jsonl"], tmp_path)
        assert result.returncode == 0, result.stderr


def stats_json(tmp_path: Path) -> dict:
    result = run(["stats", "t", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("plan", "splits", "verdict"),
    [
        ({"A": (2, 0), "B": (2, 2)}, (50, 50), "not_enough_data"),  # version 1 called B the winner
        ({"A": (1000, 50), "B": (600, 30)}, (50, 50), "do_not_decide"),  # 1,000 : 600 against 50 : 50
        ({"A": (1000, 50), "B": (1000, 100)}, (50, 50), "winner"),
    ],
)
def test_stats_json_verdicts(tmp_path: Path, plan: dict, splits: tuple, verdict: str) -> None:
    write_ab(tmp_path, plan, splits)
    doc = stats_json(tmp_path)
    b = doc["variants"][1]["vs_baseline"]
    assert (doc["verdict"], b["verdict"]) == (verdict, verdict)
    if verdict == "winner":
        assert doc["winner"] == "B" and b["significant"] is True
        assert 0 < b["ci_low"] < b["difference"] < b["ci_high"]  # the interval excludes no difference
    else:
        assert doc["winner"] is None and b["significant"] is False


def _ab(stats: CampaignStats, verdict: str, winner: str | None = None, **comparison: float) -> CampaignStats:
    base = Comparison(1.8, 0.6, 3.0, 0.01, verdict == "winner", 0.001, verdict)
    variants = tuple(v if v.baseline else replace(v, vs_baseline=replace(base, **comparison)) for v in stats.variants)
    return replace(stats, variants=variants, verdict=verdict, winner=winner)


@pytest.fixture(scope="module")
def ab_stats(tmp_path_factory: pytest.TempPathFactory) -> CampaignStats:
    """The demo A/B test over its first nine days."""
    from reporter.db import make_engine, upgrade
    from reporter.demo import load_demo
    from reporter.metrics import compute_stats, resolve_period

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('verdicts') / 'r.db'}")
    upgrade(engine)
    load_demo(engine, 400, 5)
    with engine.connect() as conn:
        start = resolve_period(conn, "black-friday-ab", None, None, "UTC").start
        stats = compute_stats(conn, "black-friday-ab", start, start + timedelta(days=9))
    engine.dispose()
    return stats


@pytest.mark.parametrize(
    ("verdict", "winner", "sentence"),
    [
        ("winner", "B", "Stop: B wins (+1.80 pp, 95% CI +0.60 to +3.00, since the test started)."),
        ("keep_running", None, "Keep running: no variant is ahead yet (day 9 of the test)."),
        ("not_enough_data", None, "Not enough data yet: each variant needs 100 users and 25 conversions."),
        (
            "do_not_decide",
            None,
            "Do not decide: the split is broken (the users sent to each variant do not match the planned split).",
        ),
        ("inconclusive", None, "Stop: no difference found at the planned 5,000 users (inconclusive)."),
        (
            "loser",
            None,
            "Stop: no variant beats the baseline A; every other variant converts less (since the test started).",
        ),
    ],
)
def test_each_ab_verdict_is_one_sentence_in_report_and_mail(
    ab_stats: CampaignStats, verdict: str, winner: str | None, sentence: str
) -> None:
    stats = _ab(ab_stats, verdict, winner)
    assert ab_sentence(stats) == sentence
    html = render_html(stats, None, datetime(2026, 11, 28, tzinfo=UTC)).html
    assert sentence in html
    mail = render_email(stats, "{campaign}", "")
    assert sentence in mail.text


@pytest.mark.parametrize(
    ("verdict", "start"),
    [
        (
            "winner",
            "The campaign works: targeted users convert more often than the control group (+1.80 pp, 95% CI +0.60 "
            "to +3.00",
        ),
        ("loser", "The campaign hurts: targeted users convert less often"),
        ("keep_running", "Keep running: no difference from the control group yet (day 9 of the campaign)."),
        ("not_enough_data", "Not enough data yet: the targeted and the control group each need 100 users"),
        ("inconclusive", "No difference from the control group at the planned 5,000 users"),
    ],
)
def test_each_control_verdict_is_one_sentence(ab_stats: CampaignStats, verdict: str, start: str) -> None:
    test = Comparison(1.8, 0.6, 3.0, 0.01, verdict in ("winner", "loser"), 0.001, verdict)
    stats = replace(ab_stats, control=replace(ab_stats.control, users=500, test=test, verdict=verdict))
    assert control_sentence(stats).startswith(start)

"""docs/figures.md defines every key of `reporter stats --json`: a new key without an entry fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from reporter.demo import PLANS, load_demo
from reporter.metrics import compute_stats
from reporter.metrics.serialize import stats_to_json

DOC = (Path(__file__).parent.parent / "docs" / "figures.md").read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"`([a-z_]+(?:\.(?:[a-z_]+|\*))*)`", DOC))
DATA_KEYED = {"split.os", "split.device", "variants.channels"}  # maps whose keys are data (platforms, channels)


def paths(node: Any, prefix: str = "") -> set[str]:
    """The documented form of every key: list positions dropped, trend granularities and data keys as `*`."""
    out: set[str] = set()
    if isinstance(node, list):
        for item in node:
            out |= paths(item, prefix)
        return out
    if not isinstance(node, dict):
        return {prefix}
    if prefix in DATA_KEYED and prefix != "variants.channels":
        return {prefix}
    for key, value in node.items():
        step = "*" if prefix in ("trend", "variants.channels") else key
        out |= paths(value, f"{prefix}.{step}" if prefix else step)
    return out


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from reporter.db import make_engine, upgrade

    engine: Engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('figs') / 'r.db'}")
    upgrade(engine)
    load_demo(engine, 600, 3)
    with engine.connect() as conn:
        docs = [stats_to_json(compute_stats(conn, p.campaign_id)) for p in PLANS]
        first = docs[0]["period"]["from"]
        from datetime import datetime, timedelta

        start = datetime.fromisoformat(first)
        # hourly
        docs.append(stats_to_json(compute_stats(conn, PLANS[1].campaign_id, start, start + timedelta(days=2))))
    engine.dispose()
    return docs


def test_every_stats_key_has_an_entry_in_the_figures_guide(documents: list[dict[str, Any]]) -> None:
    keys = set().union(*(paths(d) for d in documents))
    assert "trend.*.partial" in keys and "variants.vs_baseline.ci_low" in keys and "variants.channels.*.ctr" in keys
    assert sorted(keys - DOCUMENTED) == []


def test_the_figures_guide_stands_on_its_own() -> None:
    assert "spec/" not in DOC and "../shared" not in DOC

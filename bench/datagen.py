"""Fast synthetic event tables for the benchmarks (millions of rows in seconds).

Bench tooling only: rows are generated with NumPy and written with the
driver's bulk path (executemany on SQLite, COPY on PostgreSQL), bypassing the
loader's per-record validation, which the loader's own tests cover.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, text

from reporter.ingest import parse_campaign, store_campaigns, widen_event_range
from reporter.ingest.store import EVENT_COLUMNS
from reporter.models import EventType

START_US = 1_790_812_800_000_000  # 2026-10-01T00:00:00Z
DAY_US = 86_400_000_000
COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in ("event_id", "device_id"))  # the loader's, less the ids


@dataclass(frozen=True)
class Plan:
    campaign_id: str
    users: int  # users sent to (the control group comes on top)
    ab: bool = True


def campaign_record(plan: Plan) -> dict:
    record = {
        "campaign_id": plan.campaign_id,
        "name": f"Bench {plan.campaign_id}",
        "type": "ab" if plan.ab else "single",
        "start_at": "2026-10-01T00:00:00Z",
        "conversion_window_hours": 24,
        "control_group_pct": 10,
    }
    if plan.ab:
        record["variants"] = [{"variant": v, "name": v, "split_pct": 30} for v in "ABC"]
    return record


def events_of(pk: int, plan: Plan, seed: int) -> dict[int, list[tuple]]:
    """The campaign's events by type: about 2.5 events per user sent to."""
    rng = np.random.default_rng(seed)
    n = plan.users
    users = np.array([f"u{i:08d}" for i in range(n)], dtype=object)
    variant = rng.integers(0, 3, n) if plan.ab else np.zeros(n, dtype=int)
    vnames = np.array(["A", "B", "C"], dtype=object) if plan.ab else np.array([None], dtype=object)
    sent_ts = START_US + rng.integers(0, 30 * DAY_US, n)
    platform = np.where(rng.random(n) < 0.55, "android", "ios").astype(object)
    device = np.where(rng.random(n) < 0.88, "phone", "tablet").astype(object)
    channel_r = rng.random(n)
    channel = np.where(channel_r < 0.94, "push", np.where(channel_r < 0.97, "push_amplification", "app_inbox")).astype(
        object
    )
    seen = rng.random(n) < 0.82
    imp_ts = sent_ts + rng.integers(1_000_000, 900_000_000, n)
    clicked = seen & (rng.random(n) < 0.07 + 0.01 * variant)
    click_ts = imp_ts + rng.integers(1_000_000, 3_600_000_000, n)
    converts = rng.random(n) < np.where(clicked, 0.25, np.where(seen, 0.04, 0.01))
    conv_ts = sent_ts + (rng.random(n) ** 2 * 30 * 3_600_000_000).astype(np.int64)  # some beyond 24 h
    revenue = np.round(rng.lognormal(3.5, 0.7, n), 2)
    errors = rng.random(n) < 0.04
    qualified = rng.random(n) < 0.3
    n_control = n // 9
    out: dict[int, list[tuple]] = {}
    vcol = vnames[variant]

    def rows(mask: np.ndarray, code: int, ts: np.ndarray, delivery: bool, **extra: object) -> list[tuple]:
        idx = np.nonzero(mask)[0]
        return [
            (
                pk,
                vcol[i] if delivery else None,
                users[i],
                code,
                int(ts[i]),
                platform[i] if delivery else "unknown",
                device[i] if delivery else "unknown",
                channel[i] if delivery else None,
                extra.get("error_code"),
                float(revenue[i]) if extra.get("revenue") else None,
            )
            for i in idx
        ]

    everyone = np.ones(n, dtype=bool)
    out[EventType.QUALIFIED] = rows(qualified, EventType.QUALIFIED, sent_ts - 60_000_000, False)
    out[EventType.SENT] = rows(everyone, EventType.SENT, sent_ts, True)
    out[EventType.IMPRESSION] = rows(seen, EventType.IMPRESSION, imp_ts, True)
    out[EventType.CLICK] = rows(clicked, EventType.CLICK, click_ts, True)
    out[EventType.CONVERSION] = rows(converts, EventType.CONVERSION, conv_ts, False, revenue=True)
    out[EventType.ERROR] = rows(errors, EventType.ERROR, sent_ts, True, error_code="UNREGISTERED")
    ctl_ts = START_US + rng.integers(0, 30 * DAY_US, n_control)
    out[EventType.CONTROL] = [
        (pk, None, f"c{i:08d}", int(EventType.CONTROL), int(ctl_ts[i]), "unknown", "unknown", None, None, None)
        for i in range(n_control)
    ]
    return out


def build(engine: Engine, plans: list[Plan], seed: int = 1) -> int:
    """Create the campaigns and write their events; returns the number of events written."""
    store_campaigns(engine, [parse_campaign(campaign_record(p)) for p in plans])
    with engine.connect() as conn:
        pks = dict(conn.execute(text("SELECT campaign_id, id FROM campaigns")).all())
    total = 0
    for k, plan in enumerate(plans):
        t = time.perf_counter()
        by_type = events_of(pks[plan.campaign_id], plan, seed + k)
        count = sum(len(v) for v in by_type.values())
        for code in sorted(by_type):
            _write(engine, by_type[code])
        with engine.begin() as conn:
            lo, hi = conn.execute(
                text("SELECT MIN(ts), MAX(ts) FROM events WHERE campaign_pk = :pk"), {"pk": pks[plan.campaign_id]}
            ).one()
            widen_event_range(conn, pks[plan.campaign_id], lo, hi)
        total += count
        print(f"  {plan.campaign_id}: {count:,} events in {time.perf_counter() - t:.1f} s", flush=True)
    return total


def _write(engine: Engine, rows: list[tuple]) -> None:
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for i in range(0, len(rows), 200_000):
            cur.executemany(
                f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                rows[i : i + 200_000],
            )
        raw.commit()
    finally:
        raw.close()

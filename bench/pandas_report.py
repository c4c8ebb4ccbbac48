"""The "notebook + cron" way, as a user would write it: read a campaign's events with pandas, compute its main
figures, draw a few charts with pyplot, and make a PDF with WeasyPrint.

    python bench/pandas_report.py DB_URL CAMPAIGN OUT_DIR

Much simpler than reporter's report (no control group, no sequential tests, no
look-back attribution beyond one merge, no per-variant funnels), and it reads
every event of the campaign into memory. bench/bench_vs_pandas.py times it
against `reporter render`.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from sqlalchemy import create_engine, text
from weasyprint import HTML

KIND = {1: "qualified", 2: "control", 3: "sent", 4: "impression", 5: "click", 6: "conversion", 7: "error"}


def chart(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def main() -> None:
    url, campaign, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    engine = create_engine(url)
    with engine.connect() as conn:
        pk = conn.execute(text("SELECT id FROM campaigns WHERE campaign_id = :c"), {"c": campaign}).scalar_one()
        events = pd.read_sql(
            text("SELECT user_id, variant, event, ts, platform, revenue FROM events WHERE campaign_pk = :pk"),
            conn,
            params={"pk": pk},
        )
    events["kind"] = events["event"].map(KIND)
    events["time"] = pd.to_datetime(events["ts"], unit="us", utc=True)
    events["day"] = events["time"].dt.floor("D")
    counts = events.groupby("kind").size()
    sent_users = events.loc[events.kind == "sent", "user_id"].nunique()
    # Conversions within 24 hours after the user's latest send before them.
    sends = events.loc[events.kind == "sent", ["user_id", "time", "variant"]].sort_values("time")
    conversions = events.loc[events.kind == "conversion", ["user_id", "time", "revenue"]].sort_values("time")
    matched = pd.merge_asof(
        conversions, sends, on="time", by="user_id", direction="backward", tolerance=pd.Timedelta(hours=24)
    )
    attributed = matched.dropna(subset=["variant"])
    per_variant = (
        events.loc[events.kind == "sent"]
        .groupby("variant")["user_id"]
        .nunique()
        .to_frame("users")
        .join(attributed.groupby("variant")["user_id"].nunique().to_frame("converted"))
    )
    per_variant["rate"] = 100 * per_variant["converted"] / per_variant["users"]
    daily = events.pivot_table(index="day", columns="kind", values="user_id", aggfunc="count").fillna(0)
    fig, ax = plt.subplots(figsize=(8, 3))
    daily[[c for c in ("sent", "impression", "click") if c in daily]].plot(ax=ax)
    trend = chart(fig)
    fig, ax = plt.subplots(figsize=(8, 3))
    per_variant["rate"].plot.bar(ax=ax)
    variants = chart(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    events.loc[events.kind == "impression", "platform"].value_counts().plot.pie(ax=ax)
    split = chart(fig)
    html = f"""<html><body><h1>{campaign}</h1>
    <p>Sent {counts.get("sent", 0):,} to {sent_users:,} users; impressions {counts.get("impression", 0):,};
    clicks {counts.get("click", 0):,}; conversions {len(attributed):,}, revenue {attributed.revenue.sum():,.2f}</p>
    {per_variant.to_html()}
    <img src="{trend}" width="700"><img src="{variants}" width="700"><img src="{split}" width="350">
    </body></html>"""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{campaign}.html").write_text(html)
    HTML(string=html).write_pdf(out / f"{campaign}.pdf")


if __name__ == "__main__":
    main()

"""Loading campaigns and events: validation, de-duplication, batches, rejects.

Each batch of events is one transaction, so an interrupted load leaves whole
batches only, and re-running it skips the events already stored (by
`event_id`). Records that break the data contract (README) go to the rejects
file with their line and reason; every good record of the file is stored.

The package reads a file (sources.py: records, or a CSV file's lines in
blocks), validates it (blocks.py: a block of CSV lines a column at a time;
parse.py: the contract, record by record, for the rest and for the reasons
of rejects), stores the good rows (store.py: each batch into a stage, then
into the events table in one statement on a thread of its own); load.py
does the three for one file and writes the rejects.
"""

from reporter.ingest.load import LoadSummary, load_campaigns, load_events
from reporter.ingest.parse import parse_campaign, parse_event, parse_timestamp
from reporter.ingest.store import campaign_refs, store_campaigns, store_events, widen_event_range

__all__ = [
    "LoadSummary",
    "campaign_refs",
    "load_campaigns",
    "load_events",
    "parse_campaign",
    "parse_event",
    "parse_timestamp",
    "store_campaigns",
    "store_events",
    "widen_event_range",
]

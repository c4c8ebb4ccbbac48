"""Reading the config file (the full validated model arrives with the jobs issue)."""

from __future__ import annotations

from pathlib import Path

from reporter.errors import UserError


def database_url_from(path: Path) -> str | None:
    """The `database.url` of a config file, or None when it sets none."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the config: {str(exc).splitlines()[0]}") from exc
    database = data.get("database") if isinstance(data, dict) else None
    if isinstance(database, dict) and isinstance(database.get("url"), str):
        return database["url"]
    return None

"""Engine creation, SQLite tuning and schema migration (Alembic)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from reporter.errors import DatabaseError

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///reporter.db"
# The Alembic revision this code needs; bump it with every new migration.
HEAD_REVISION = "0007"


def _sqlite_tuning(busy_timeout_s: float) -> Callable[[object, object], None]:
    def tune(dbapi_conn: object, _record: object) -> None:
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MB page cache
        cur.close()

    return tune


def make_engine(url: str = DEFAULT_URL, busy_timeout_s: float = 30.0) -> Engine:
    """Create an engine for any SQLAlchemy URL; SQLite gets WAL, a larger cache and waits `busy_timeout_s` for locks."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {url!r}") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                parent = Path(database).parent
                if not parent.exists():
                    raise DatabaseError(f"folder {str(parent)!r} does not exist")
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_tuning(busy_timeout_s))
        elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
            # JIT compiles the attribution query for ~0.3 s to save nothing: the
            # metrics queries are index probes and range counts, not long scans.
            engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"})
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise DatabaseError(
            f"no driver for {parsed.drivername!r} (for PostgreSQL: pip install 'reporter[postgres]')"
        ) from exc
    return engine


def sqlite_in_memory(engine: Engine) -> bool:
    """Whether the engine is an in-memory SQLite database, which exists for one connection only (another
    thread's connection sees another, empty database)."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


# The engine's execution option naming the columnar copy's file (see `with_copy`, metrics/columnar.py).
COPY_OPTION = "reporter_columnar_copy"


def with_copy(engine: Engine, path: Path | None) -> Engine:
    """The engine, its figures computed in the columnar copy at `path` (None: straight from the database)."""
    if path is None:
        return engine
    require_duckdb()
    return engine.execution_options(**{COPY_OPTION: str(path)})


def copy_path(engine: Engine) -> Path | None:
    """The columnar copy `with_copy` gave the engine, if any."""
    value = engine.get_execution_options().get(COPY_OPTION)
    return Path(value) if value else None


# DuckDB's allocator (its own jemalloc) keeps the pages a query freed for a second by default (DuckDB 2.0),
# to reuse them; a report's queries run one after the other in well under a second, so each one's hash tables
# were added to the last one's kept pages: 234 MB at the peak of a million-user campaign's figures, 196 MB
# with freed pages returned at once, in the same time. Read by jemalloc when DuckDB's library starts: set
# before its first import in the process (a value of the user's own stands; child processes inherit it).
DUCKDB_ALLOCATOR = ("DUCKDB_JE_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")


def require_duckdb() -> None:
    os.environ.setdefault(*DUCKDB_ALLOCATOR)
    try:
        import duckdb  # noqa: F401
        import duckdb_engine  # noqa: F401
    except ImportError:
        raise DatabaseError("database.columnar_copy needs DuckDB: pip install 'reporter[duckdb]'") from None


def shown_url(url: str) -> str:
    """The database URL for people and logs: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def stored_url(url: str) -> str:
    """The database URL without its password, as a reference to store (job stores, run records)."""
    try:
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except ArgumentError:
        return url


def runtime_url(reference: str, environ: dict[str, str] | None = None) -> str:
    """The URL to connect with: the environment's REPORTER_DATABASE_URL when `reference` is it without its password."""
    import os

    full = (environ if environ is not None else os.environ).get("REPORTER_DATABASE_URL")
    if full and stored_url(full) == stored_url(reference):
        return full
    return reference


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _alembic_config(engine: Engine) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("reporter.migrations")))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database, or None for an empty database."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from exc


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or migrate the schema to the newest revision; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    if before != HEAD_REVISION:
        command.upgrade(_alembic_config(engine), "head")  # type: ignore[arg-type]
    return before, HEAD_REVISION


def ensure_schema(engine: Engine) -> None:
    """Migrate the embedded SQLite database on first use; require `db upgrade` elsewhere."""
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        return
    if is_sqlite(engine):
        upgrade(engine)
        return
    state = "empty" if revision is None else f"at revision {revision}"
    raise DatabaseError(f"the database is {state}, this version needs {HEAD_REVISION}: run `reporter db upgrade`")


ANALYZE_EVENTS = "ANALYZE events"


def analyze_events(engine: Engine) -> None:
    """Refresh the planner statistics of the events table only (cheap; done during a load)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(ANALYZE_EVENTS)


def analyze(engine: Engine) -> None:
    """Refresh the planner statistics after a bulk load."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn.exec_driver_sql("PRAGMA optimize")
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        else:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql":
                # VACUUM sets the visibility map so the covering indexes give index-only scans.
                conn.exec_driver_sql("VACUUM (ANALYZE) events")
            else:
                conn.exec_driver_sql(ANALYZE_EVENTS)

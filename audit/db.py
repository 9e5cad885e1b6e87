"""Engine, connection settings and migrations.

SQLite (the default) runs in WAL mode with a busy timeout, so a collector and a runner can share it, and with
`synchronous=FULL`, so the write-ahead record committed before a submit click survives a power cut.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from audit.errors import DatabaseError

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (the "begin" listener below).
    # Left to itself, sqlite3 opens a transaction only at the first write, so a SAVEPOINT issued first is
    # released as a commit of its own: a caller's rollback would not undo it (SQLAlchemy's documented recipe,
    # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


WRITER_OPTION = "audit_sqlite_writer"


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITER_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine (and pool) for sessions that read and then write in one transaction.

    On SQLite such a transaction, begun deferred, fails at its first write at once (SQLITE_BUSY, no waiting)
    if another connection committed after its first read: the server's lease renewal and job records do, all
    the time. These sessions take the write lock at BEGIN instead, waiting up to the busy timeout. Opt-in,
    not global: a process that holds a read session open while it writes through another would wait on
    itself. PostgreSQL ignores the option.
    """
    return engine.execution_options(**{WRITER_OPTION: True})


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("audit") / "migrations"))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is current)."""
    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as ex:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseError(f"cannot prepare the database at {where}: {ex.__class__.__name__}: {ex}") from ex


def open_database(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A short transaction: committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

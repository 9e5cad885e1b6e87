"""Engine, connection settings and migrations.

SQLite (the default) runs in WAL mode with a busy timeout, so a collector and a runner can share it, and with
`synchronous=FULL`, so the write-ahead record committed before a submit click survives a power cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from audit.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

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
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("audit") / "migrations"))
    config.attributes["engine"] = engine
    return config


def _cannot_prepare(engine: Engine, ex: SQLAlchemyError) -> DatabaseError:
    where = engine.url.render_as_string(hide_password=True)
    return DatabaseError(f"cannot prepare the database at {where}: {ex.__class__.__name__}: {ex}")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is current)."""
    # Imported here: Alembic's machinery (and every migration script it loads) costs about half a second
    # of start-up, and `open_database` needs it only when the schema is behind.
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as ex:
        raise _cannot_prepare(engine, ex) from ex


# The assignments Alembic reads from each script (`revision = "0007_login_throttle"`, `down_revision = ...`).
_REVISION = re.compile(r"""^revision\s*(?::[^=\n]*)?=\s*["']([^"'\n]+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=\n]*)?=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"'\n]+)["']""")


@cache
def head_revision() -> str | None:
    """The newest migration's id, read from the scripts' text, or None when that text is not plain enough
    to be sure (then `open_database` lets Alembic decide).

    Alembic itself imports every script to learn the same; reading them is what makes the check cheap. A
    test compares this with Alembic's own answer (`ScriptDirectory.get_heads`).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (resources.files("audit") / "migrations" / "versions").iterdir():
        # The files Alembic loads: *.py, not __init__.py, not an editor's .# lock file.
        if not script.name.endswith(".py") or script.name.startswith(("__init__", ".#")):
            continue
        source = script.read_text(encoding="utf-8")
        revision = _REVISION.findall(source)
        down = _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        parents.update(_QUOTED.findall(down[0]))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def schema_is_current(engine: Engine) -> bool:
    """Whether the database's alembic_version holds exactly the newest migration: one query, no Alembic."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):  # a new database
                return False
            stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError as ex:
        raise _cannot_prepare(engine, ex) from ex
    return list(stored) == [head]


def open_database(url: str) -> Engine:
    """An engine on a database at the newest migration: upgraded first if it is new or behind.

    Every command opens the database, so the check is one query; the upgrade (Alembic, its scripts, a
    transaction of DDL) runs only when the versions differ, once. A database ahead of this code (a newer
    version elsewhere migrated it) also differs, and Alembic's upgrade refuses it as it always did.
    """
    engine = make_engine(url)
    if not schema_is_current(engine):
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

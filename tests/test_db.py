"""The database layer on real SQLite and real PostgreSQL: migrations, UTC round trips, constraints."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from audit.db import make_engine, migrate, open_database
from audit.models import Company, Probe, Wave


def test_migrations_and_models_agree(database_url: str) -> None:
    engine = open_database(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_migrate_is_idempotent_and_creates_every_table(database_url: str) -> None:
    engine = open_database(database_url)
    migrate(engine)  # a second time: nothing to do, no error
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"company", "wave", "probe", "alembic_version"} <= tables


def test_timestamps_come_back_utc_aware(database_url: str) -> None:
    engine = open_database(database_url)
    jerusalem = timezone(timedelta(hours=2))
    moment = datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=jerusalem)
    with Session(engine) as session:
        session.add(Company(id="acme", name="Acme", contact_url="https://acme.test/", domain="acme.test"))
        wave = Wave(audit_name="t", created_at=moment)
        session.add(wave)
        session.commit()
        wave_id = wave.id
    with Session(engine) as session:
        stored = session.get(Wave, wave_id)
        assert stored is not None
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == timedelta(0)
        assert stored.created_at == moment
        assert stored.created_at.hour == 7  # 09:30 at +02:00 is 07:30 UTC
    engine.dispose()


def test_naive_datetimes_are_refused(database_url: str) -> None:
    engine = open_database(database_url)
    with Session(engine) as session:
        session.add(Wave(audit_name="t", created_at=datetime(2026, 1, 1, 12, 0)))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()
    engine.dispose()


def test_probe_tokens_and_wave_slots_are_unique(database_url: str) -> None:
    engine = open_database(database_url)
    with Session(engine) as session:
        session.add(Company(id="acme", name="Acme", contact_url="https://acme.test/", domain="acme.test"))
        wave = Wave(audit_name="t")
        session.add(wave)
        session.commit()
        assert wave.id is not None
        common = {"wave_id": wave.id, "company_id": "acme", "reply_address": "x@y.z", "contact_url": "u"}
        session.add(Probe(token="tok1", ref_code="AAAA-11", **common))
        session.commit()
        session.add(Probe(token="tok2", ref_code="AAAA-12", **common))  # same wave, company and seq
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        session.add(Probe(token="tok1", ref_code="AAAA-13", seq=2, **common))  # same token
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_a_savepoint_does_not_commit_behind_the_callers_back(database_url: str) -> None:
    """ingest_raw works inside the caller's transaction with savepoints; a rollback must undo all of it."""
    engine = open_database(database_url)
    with Session(engine) as session:
        with session.begin_nested():
            session.add(Wave(audit_name="inside a savepoint"))
        session.rollback()
    with Session(engine) as session:
        assert session.exec(select(Wave)).all() == []
    engine.dispose()


def test_a_writer_session_takes_the_sqlite_write_lock_when_it_begins(tmp_path: Path) -> None:
    # A reader-then-writer begun deferred fails at its first write if another connection committed after its
    # first read (SQLITE_BUSY, no waiting); `writer()` sessions hold the write lock from their first statement.
    import sqlite3

    from sqlmodel import Session, select

    from audit.db import writer
    from audit.models import Company

    path = tmp_path / "w.db"
    engine = open_database(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        with Session(engine) as reader:  # a plain session stays deferred: others may still write
            reader.exec(select(Company)).all()
            other.execute("INSERT INTO company (id, name, sector, contact_url, domain, updated_at) "
                          "VALUES ('a', 'A', 'x', 'u', 'd', '2026-01-01 00:00:00')")  # fmt: skip
        with Session(writer(engine)) as session:
            session.exec(select(Company)).all()  # the first statement began the transaction
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO company (id, name, sector, contact_url, domain, updated_at) "
                              "VALUES ('b', 'B', 'x', 'u', 'd', '2026-01-01 00:00:00')")  # fmt: skip
            session.add(Company(id="c", name="C", contact_url="u", domain="d"))
            session.commit()
    finally:
        other.close()
        engine.dispose()


def test_the_head_read_from_the_scripts_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from audit.db import alembic_config, head_revision

    engine = make_engine("sqlite://")
    heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    engine.dispose()
    assert [head_revision()] == heads


def test_open_database_upgrades_only_a_new_or_older_schema(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One query decides: a current schema is not handed to Alembic; a new one, or one a migration behind
    (what an upgrade of the tool meets), is upgraded to the head."""
    from alembic import command

    import audit.db
    from audit.db import alembic_config, head_revision

    upgrades: list[str] = []

    def counted(engine: Engine) -> None:
        upgrades.append("upgrade")
        migrate(engine)

    monkeypatch.setattr(audit.db, "migrate", counted)
    engine = open_database(database_url)  # new
    assert upgrades == ["upgrade"]
    open_database(database_url).dispose()  # current: not even Alembic's own no-op
    assert upgrades == ["upgrade"]
    command.downgrade(alembic_config(engine), "-1")  # the newest migration (0008) added probe.channel
    assert "channel" not in {column["name"] for column in inspect(engine).get_columns("probe")}
    engine.dispose()
    engine = open_database(database_url)  # one migration behind
    assert upgrades == ["upgrade", "upgrade"]
    assert "channel" in {column["name"] for column in inspect(engine).get_columns("probe")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    engine.dispose()

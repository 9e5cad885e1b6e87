"""Copy an audit's SQLite database into an empty PostgreSQL database, every table and row as it is.

    python deploy/sqlite_to_postgres.py /var/lib/audit/audit.db postgresql+psycopg://audit@localhost/audit

Stop `audit serve` first. Both databases are brought to the newest schema by the tool's own migrations, the
rows are copied table by table in foreign-key order (timestamps stay UTC), and PostgreSQL's id sequences are
moved past the copied ids. The target must be empty: the copy refuses to mix two audits' histories. Then set
AUDIT_DATABASE_URL to the PostgreSQL URL and start the server again; the files (raw/, evidence/, reports/)
stay in the data directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine, Table, func, insert, inspect, select, text
from sqlmodel import SQLModel

import audit.models  # noqa: F401 - registers every table on SQLModel.metadata
from audit.db import open_database

CHUNK = 1000


def _tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)  # parents before children


def copy(source: Engine, target: Engine) -> dict[str, int]:
    for table in _tables():
        with target.connect() as connection:
            if connection.execute(select(func.count()).select_from(table)).scalar():
                raise SystemExit(
                    f"the target database is not empty (table {table.name} has rows); nothing copied"
                )
    copied: dict[str, int] = {}
    with source.connect() as reader, target.begin() as writer:
        for table in _tables():
            rows = 0
            result = reader.execution_options(stream_results=True).execute(select(table))
            while batch := result.fetchmany(CHUNK):
                writer.execute(insert(table), [dict(row._mapping) for row in batch])
                rows += len(batch)
            copied[table.name] = rows
        for table in _tables():
            key = list(table.primary_key.columns)
            if len(key) == 1 and key[0].autoincrement is not False and key[0].type.python_type is int:
                writer.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{key[0].name}'), "
                        f"(SELECT coalesce(max({key[0].name}), 0) + 1 FROM {table.name}), false)"
                    )
                )
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sqlite_file", type=Path)
    parser.add_argument("postgresql_url")
    args = parser.parse_args()
    if not args.sqlite_file.is_file():
        raise SystemExit(f"{args.sqlite_file}: no such file")
    if not args.postgresql_url.startswith("postgresql"):
        raise SystemExit("the target must be a postgresql+psycopg:// URL")
    source = open_database(f"sqlite:///{args.sqlite_file.resolve().as_posix()}")
    target = open_database(args.postgresql_url)
    try:
        complete = set(inspect(target).get_table_names()) >= {table.name for table in _tables()}
        if not complete:
            raise SystemExit("the target's schema is incomplete after migrating; is it the right database?")
        copied = copy(source, target)
    finally:
        source.dispose()
        target.dispose()
    for name, rows in copied.items():
        sys.stdout.write(f"{name}: {rows} rows\n")


if __name__ == "__main__":
    main()

"""The database seam of the call log: one `Dialect` per backend, and `Db`, a connection
through it.

Everything else in `vio_sbc.calllog` writes portable SQL with `?` placeholders and
the DDL type tokens of `schema.py` (`{serial}`, `{real}`), and reaches the database
only through `Db`. A backend is a `Dialect`: how to connect, its placeholder, its
DDL types, where it keeps the schema version (one per `scope`: the call log's and the
dialer's migrations are separate sequences), how to list a table's columns, which
errors mean "busy, try again", how to probe for a write lock and how to lock rows a
claim takes. `SqliteDialect` is the one here (WAL, `PRAGMA user_version`, writes under
`BEGIN IMMEDIATE`); `vio_sbc.calllog.postgres.PgDialect` (psycopg 3: `%s`,
`DOUBLE PRECISION`, identity columns, a version table, `FOR UPDATE SKIP LOCKED`)
plugs in beside it, and `dialect_for` chooses it when `storage.database` is a
`postgresql://` URL.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from vio_sbc.config.model import Config
from vio_sbc.fileperm import private_file

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class Dialect(Protocol):
    name: str
    location: str  # what messages call the database: a path, or a URL without password
    types: Mapping[str, str]  # DDL type tokens of schema.py -> this backend's types

    def connect(self) -> Any:
        """A new DB-API connection (each thread and each reader has its own)."""

    def exists(self) -> bool:
        """The database is there (readers do not create one)."""

    def placeholders(self, sql: str) -> str:
        """`sql` with its `?` placeholders in this backend's style."""

    def prepare(self, conn: Any) -> None:
        """Once per database before migrating (e.g. SQLite's WAL journal)."""

    def schema_version(self, conn: Any, scope: str) -> int: ...

    def set_schema_version(self, conn: Any, version: int, scope: str) -> None: ...

    def lock_schema(self, conn: Any) -> None:
        """Inside a migration's transaction: keep other processes' migrations out."""

    def skip_locked(self, alias: str) -> str:
        """The suffix of a SELECT whose rows (of `alias`) the transaction takes for itself,
        skipping rows another transaction holds ("" where writers are serialised)."""

    def columns(self, conn: Any, table: str) -> set[str]: ...

    def retryable(self, exc: Exception) -> bool:
        """The write failed only because another writer held the database: retry it."""

    def probe_write_lock(self, timeout_s: float) -> None:
        """Take and release a write lock within `timeout_s`, writing nothing (readiness,
        on a connection of its own); raises the backend's error."""

    def transaction(self, conn: Any) -> AbstractContextManager[Any]:
        """Commits what its block did, or rolls it back if the block raised."""

    @property
    def error(self) -> type[Exception]:
        """The backend's base exception class."""


class SqliteDialect:
    name = "sqlite"
    types: Mapping[str, str] = {"serial": "INTEGER PRIMARY KEY", "real": "REAL"}

    def __init__(self, path: str | Path, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.timeout_s = timeout_s

    @property
    def error(self) -> type[Exception]:
        return sqlite3.Error

    def connect(self) -> sqlite3.Connection:
        private_file(self.path)  # 0600 whatever the umask; SQLite gives -wal/-shm its mode
        conn = sqlite3.connect(str(self.path), timeout=self.timeout_s, check_same_thread=False,
                               isolation_level=None)  # transactions: transaction() only
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        return conn

    def exists(self) -> bool:
        return self.path.exists()

    def placeholders(self, sql: str) -> str:
        return sql

    def prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = wal")

    def schema_version(self, conn: sqlite3.Connection, scope: str) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])  # a file per scope

    def set_schema_version(self, conn: sqlite3.Connection, version: int, scope: str) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

    def lock_schema(self, conn: sqlite3.Connection) -> None:
        pass  # BEGIN IMMEDIATE holds the write lock already

    def skip_locked(self, alias: str) -> str:
        return ""  # one writer at a time (BEGIN IMMEDIATE): nothing to skip

    def columns(self, conn: sqlite3.Connection, table: str) -> set[str]:
        return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({_name(table)})")}

    def retryable(self, exc: Exception) -> bool:
        text = str(exc)
        return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)

    def probe_write_lock(self, timeout_s: float) -> None:
        conn = sqlite3.connect(str(self.path), timeout=timeout_s)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        finally:
            conn.close()

    def transaction(self, conn: sqlite3.Connection) -> AbstractContextManager[Any]:
        return _immediate(conn)


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front, so a read-then-write
    (a dialer claim) never fails half-way on another writer's commit; nested: joins."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _name(text: str) -> str:
    """A table or column name from our own code, checked before it goes into SQL."""
    if not _NAME.fullmatch(text):
        raise ValueError(f"not a plain SQL name: {text!r}")
    return text


class Db:
    """One connection through a dialect; rows come back as dicts."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.conn = dialect.connect()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.dialect.placeholders(sql), list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return row[0] if row is not None else None

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        cols = [_name(c) for c in row]
        self.execute(f"INSERT INTO {_name(table)} ({', '.join(cols)}) "
                     f"VALUES ({', '.join('?' for _ in cols)})", list(row.values()))

    def update(self, table: str, key: str, fields: Mapping[str, Any]) -> int:
        """Set `fields` on the row whose id is `key`; the number of rows changed."""
        if not fields:
            return 1
        sets = ", ".join(f"{_name(c)} = ?" for c in fields)
        cur = self.execute(f"UPDATE {_name(table)} SET {sets} WHERE id = ?",
                           [*fields.values(), key])
        return int(cur.rowcount)

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """Commit what the block did, or roll it back if it raised."""
        with self.dialect.transaction(self.conn):
            yield self

    def reconnect(self) -> None:
        """A new connection in place of a broken one."""
        try:
            self.conn.close()
        except self.dialect.error:
            pass
        self.conn = self.dialect.connect()

    def close(self) -> None:
        self.conn.close()


def dialect_for(cfg: Config, name: str = "vio.db") -> Dialect:
    """The database for a configuration (the one place its location is worked out):
    `storage.database`'s PostgreSQL server when set, else `<storage.dir>/<name>` (the
    call log's `vio.db`, the dialer's `dialer.db`: one file each)."""
    if cfg.storage.database is not None:
        from vio_sbc.calllog.postgres import PgDialect  # psycopg only when configured

        return PgDialect(cfg.storage.database, cfg.storage.password)
    return SqliteDialect(Path(cfg.storage.dir) / name)


def as_dialect(where: Dialect | str | Path) -> Dialect:
    """A dialect as is; a path names an SQLite file."""
    return SqliteDialect(where) if isinstance(where, str | Path) else where

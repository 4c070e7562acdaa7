"""Fixtures shared by unit and integration tests: the database backends.

`pg_server` is one throwaway PostgreSQL server for the whole session (tests/pgserver.py);
`backend` parametrises a test over SQLite and PostgreSQL: `backend(name)` is the
dialect of that test's database — one SQLite file per name (`vio.db`, `dialer.db`), or
one fresh PostgreSQL schema the names share (as the call log and the dialer share a
cluster's database).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pgserver import PgServer, start_server
from vio_sbc.calllog.dialect import Dialect, SqliteDialect

Backend = Callable[..., Dialect]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        def sqlite(name: str = "vio.db") -> Dialect:
            return SqliteDialect(tmp_path / name)

        return sqlite
    from vio_sbc.calllog.postgres import PgDialect

    url = request.getfixturevalue("pg_server").fresh_schema()

    def postgresql(name: str = "vio.db") -> Dialect:
        return PgDialect(url)

    return postgresql

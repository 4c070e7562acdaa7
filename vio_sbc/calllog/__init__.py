"""The call log: every call-log table and query, behind one interface.

- `CallLog` (store.py): the running server's log: rows, events and transcript lines
  written by one writer thread; `get`/`transcript` reads; `check()` for /readyz;
  calls a crash left live are closed as `interrupted` when it opens.
- `CallLogDb` (queries.py): a synchronous connection for the CLI (`calls`, `call`,
  `export`), crash recovery and retention.
- `CallRecords` (records.py): transcript, recording, summary and cost of each call;
  `recovery.py` the same for calls a crash interrupted; `cleanup.py` retention;
  `cost.py` the cost rule (pure); `summary/` the summarisers.
- `schema.py`: the tables and their versions (the one place they are defined).
- `dialect.py`: the database seam. Nothing outside this package writes SQL for the
  call log or knows which database holds it: `dialect_for(cfg)` picks it (SQLite at
  `<storage.dir>/vio.db` today; a PostgreSQL dialect plugs in there).
"""

from vio_sbc.calllog.dialect import Dialect, SqliteDialect, dialect_for
from vio_sbc.calllog.queries import AmbiguousCall, CallLogDb
from vio_sbc.calllog.store import CallLog

__all__ = ["AmbiguousCall", "CallLog", "CallLogDb", "Dialect", "SqliteDialect", "dialect_for"]

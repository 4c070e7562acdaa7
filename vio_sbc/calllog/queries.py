"""Synchronous access to the call log: the queries of `vio-sbc calls/call/export`, the
reads of crash recovery and the deletes of retention cleanup.

A `CallLogDb` is one connection of its own (the server may be running: SQLite's WAL
lets readers and the writer work side by side); rows come back as dicts. It brings
an older log's schema up to date when opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from vio_sbc.calllog.dialect import Db, Dialect, as_dialect
from vio_sbc.calllog.schema import LIVE_STATUSES, migrate

# columns `calls` filters on
FILTERS = ("number", "agent", "trunk", "direction", "status", "worker")


class AmbiguousCall(LookupError):
    """An id prefix or SIP Call-ID prefix matches more than one call."""


class CallLogDb:
    def __init__(self, where: Dialect | str | Path, *, upgrade: bool = True) -> None:
        """`where`: the database's dialect, or an SQLite file's path; `upgrade`: bring an
        older log's schema up to date first."""
        self.db = Db(as_dialect(where))
        if upgrade:
            migrate(self.db)

    def __enter__(self) -> CallLogDb:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- calls ------------------------------------------------------------------
    def get(self, call_id: str) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM calls WHERE id = ?", [call_id])

    def calls(self, filters: Mapping[str, str | None], since: float | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
        """Calls newest first; `filters` maps FILTERS columns to the value they must have
        (None or "": no filter); `since`: received at or after (epoch seconds)."""
        where: list[str] = []
        params: list[Any] = []
        for key in FILTERS:
            value = filters.get(key)
            if value:
                where.append(f"{key} = ?")
                params.append(value)
        if since is not None:
            where.append("received_at >= ?")
            params.append(since)
        sql = "SELECT * FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received_at DESC, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.db.query(sql, params)

    def find(self, ident: str) -> dict[str, Any]:
        """By id, SIP Call-ID, unique id prefix, or unique SIP Call-ID prefix; raises
        LookupError (no match) or AmbiguousCall."""
        for sql, arg in (("id = ?", ident), ("sip_call_id = ?", ident),
                         ("id LIKE ? ESCAPE '\\'", _like(ident)),
                         ("sip_call_id LIKE ? ESCAPE '\\'", _like(ident))):
            rows = self.db.query(f"SELECT * FROM calls WHERE {sql} LIMIT 5", [arg])
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise AmbiguousCall(f"{ident!r} matches {len(rows) if len(rows) < 5 else '5+'} "
                                    "calls: give more characters")
        raise LookupError(f"no call matches {ident!r} (an id, id prefix or SIP Call-ID)")

    def call_columns(self) -> list[str]:
        """The columns of `calls`, in table order."""
        cur = self.db.execute("SELECT * FROM calls LIMIT 0")
        return [d[0] for d in cur.description]

    # -- transcript and events -------------------------------------------------
    def transcript(self, call_id: str, *, as_logged: bool = False) -> list[dict[str, Any]]:
        """The call's transcript in call time order (start_ms, then seq), or `as_logged`
        in the order the rows were written."""
        order = "id" if as_logged else "start_ms, seq"
        return self.db.query(
            "SELECT seq, speaker, start_ms, end_ms, text FROM transcript WHERE call_id = ? "
            f"ORDER BY {order}", [call_id])

    def events(self, call_id: str) -> list[dict[str, Any]]:
        """The call's events (t_ms after the call started, kind, data) as written."""
        return self.db.query("SELECT t_ms, kind, data FROM call_events WHERE call_id = ? "
                             "ORDER BY id", [call_id])

    def last_event_ms(self, call_id: str) -> int | None:
        value = self.db.scalar("SELECT max(t_ms) FROM call_events WHERE call_id = ?",
                               [call_id])
        return None if value is None else int(value)

    # -- retention ---------------------------------------------------------------
    def ended_before(self, cutoff: float) -> list[tuple[str, str | None]]:
        """(id, recording_path) of calls received before `cutoff` that are over."""
        marks = ",".join("?" for _ in LIVE_STATUSES)
        return [(str(r["id"]), r["recording_path"]) for r in self.db.query(
            f"SELECT id, recording_path FROM calls WHERE received_at < ? "
            f"AND status NOT IN ({marks})", [cutoff, *LIVE_STATUSES])]

    def recording_paths(self) -> set[str]:
        return {str(r["recording_path"]) for r in self.db.query(
            "SELECT recording_path FROM calls WHERE recording_path IS NOT NULL")}

    def forget(self, ids: Sequence[str], *, rows: bool) -> None:
        """Clear the calls' recording paths, or with `rows` delete the calls and their
        transcript and events; one transaction."""
        with self.db.transaction():
            for call_id in ids:
                if rows:
                    for table in ("transcript", "call_events"):
                        self.db.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])
                    self.db.execute("DELETE FROM calls WHERE id = ?", [call_id])
                else:
                    self.db.execute("UPDATE calls SET recording_path = NULL WHERE id = ?",
                                    [call_id])


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

"""Contacts CSV for `vio-sbc campaign load`: number, optional name and tz, the rest variables.

`parse_contacts` is pure: it returns the valid contacts and one message per invalid
row, each with the row's line number, so a file with bad rows still loads the good ones.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from vio_sbc.dialer.rules import normalise_number
from vio_sbc.dialer.windows import DialerError, zone

RESERVED = ("number", "name", "tz")


@dataclass(frozen=True, slots=True)
class Contact:
    line: int
    number: str
    name: str | None = None
    tz: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}: {self.message}"


def decode_csv(data: bytes) -> str:
    """The text of a contacts file: UTF-8 (with or without BOM) or, as spreadsheets save
    "Unicode text", UTF-16 with a BOM. Anything else raises DialerError saying how to
    save it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DialerError(f"UTF-16 text broken at byte {exc.start}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DialerError(f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                          f"offset {exc.start}); save the file as \"CSV UTF-8\"") from None


def delimiter(text: str) -> str:
    """`,` unless the header row has tabs and no comma (a spreadsheet's "Unicode text")."""
    header = text.split("\n", 1)[0]
    return "\t" if "\t" in header and "," not in header else ","


def parse_contacts(text: str) -> tuple[list[Contact], list[RowError]]:
    """Contacts and row errors. A missing `number` column is one error on line 1."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(1, "empty file: expected a header row with a 'number' column")]
    except csv.Error as exc:
        return [], [RowError(1, f"unreadable CSV: {exc}")]
    names = [h.strip().lower() for h in header]
    if "number" not in names:
        shown = ", ".join(h.strip() for h in header) or "none"
        return [], [RowError(1, f"no 'number' column (columns: {shown})")]
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        return [], [RowError(1, f"duplicate column(s): {', '.join(dupes)}")]
    contacts: list[Contact] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, f"unreadable CSV: {exc}"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(names):
            errors.append(RowError(line, f"expected {len(names)} fields, got {len(row)}"))
            continue
        values = {k: v.strip() for k, v in zip(names, row, strict=True)}
        try:
            number = normalise_number(values["number"])
            tz = values.get("tz") or None
            if tz is not None:
                zone(tz)
        except DialerError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if number in seen:
            errors.append(RowError(line, f"{number} repeats line {seen[number]}"))
            continue
        seen[number] = line
        name = values.get("name") or None
        variables = {k: v for k, v in values.items() if k not in RESERVED and k}
        if name is not None:
            variables["name"] = name
        contacts.append(Contact(line, number, name, tz, variables))
    return contacts, errors

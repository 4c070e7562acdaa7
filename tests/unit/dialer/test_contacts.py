"""Contacts CSV: valid rows load, invalid rows are reported with their line numbers."""

from __future__ import annotations

from vio_sbc.dialer.contacts import Contact, RowError, parse_contacts


def test_valid_and_invalid_rows() -> None:
    text = (
        "number,name,tz,plan\n"                        # 1
        "+14155551000,Ada,America/New_York,gold\n"     # 2
        "(415) 555-1001,,,\n"                          # 3: not E.164
        "+1 415 555 1002,Bob,Mars/Base,x\n"            # 4: bad zone
        "\n"                                           # 5: blank, skipped
        "+14155551003,Cy,,silver\n"                    # 6
        "+14155551000,Ada again,,\n"                   # 7: duplicate of line 2
        "+14155551004,too,many,fields,here\n"          # 8
        "0044 20 7946 0000,Di,Europe/London,\n"        # 9
    )
    contacts, errors = parse_contacts(text)
    assert contacts == [
        Contact(2, "+14155551000", "Ada", "America/New_York", {"plan": "gold", "name": "Ada"}),
        Contact(6, "+14155551003", "Cy", None, {"plan": "silver", "name": "Cy"}),
        Contact(9, "+442079460000", "Di", "Europe/London", {"plan": "", "name": "Di"}),
    ]
    assert [e.format("c.csv") for e in errors] == [
        "c.csv:3: '(415) 555-1001' is not an E.164 number (+ then 8-15 digits, no leading 0)",
        "c.csv:4: unknown time zone 'Mars/Base' (expected an IANA name such as "
        "America/New_York)",
        "c.csv:7: +14155551000 repeats line 2",
        "c.csv:8: expected 4 fields, got 5",
    ]


def test_quoted_fields_keep_their_line_numbers() -> None:
    text = 'number,note\n"+14155551000","two\nlines"\nnope,x\n'
    contacts, errors = parse_contacts(text)
    assert contacts[0].variables == {"note": "two\nlines"}
    assert errors == [RowError(4, "'nope' is not an E.164 number (+ then 8-15 digits, "
                                  "no leading 0)")]


def test_header_errors() -> None:
    assert parse_contacts("") == ([], [RowError(1, "empty file: expected a header row with "
                                                   "a 'number' column")])
    assert parse_contacts("phone,name\n+14155551000,a\n") == (
        [], [RowError(1, "no 'number' column (columns: phone, name)")])
    assert parse_contacts("number,Number\n") == ([], [RowError(1, "duplicate column(s): number")])

"""The console's pure parts: the YAML edit keeps the file, the token check, Range parsing."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from vio_sbc.console.auth import COOKIE, Auth
from vio_sbc.console.media import RangeNotSatisfiable, parse_range
from vio_sbc.console.yamledit import Change, EditError, edit_text, write_atomic

REPO = Path(__file__).resolve().parents[3]
TOKEN = "t0ken-0123456789abcdef"


def changed(old: str, new: str) -> list[str]:
    return [ln for ln in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="",
                                              n=0) if ln[:1] in "+-" and ln[:3] not in
            ("+++", "---")]


def test_edit_changes_only_the_numbers_line_of_the_stock_config() -> None:
    text = (REPO / "config" / "vio.yaml").read_text()
    new = edit_text(text, "+14155550101", Change(direction="outbound", agent="echo"))
    assert changed(text, new) == [
        '-  "+14155550101": {trunk: pbx, direction: inbound}   # no agent: the default agent '
        "answers",
        '+  "+14155550101": {trunk: pbx, direction: outbound, agent: echo} # no agent: the '
        "default agent answers"]
    back = edit_text(new, "+14155550101", Change(direction="inbound", agent=""))
    # back where it was, but for the spaces before the line's comment
    assert [ln.split() for ln in back.splitlines()] == [ln.split() for ln in text.splitlines()]


BLOCK = """\
# top comment
numbers:
  # first
  "+14155550100":
    trunk: pbx     # the trunk
    direction: both
    agent: echo

  # second
  "+14155550101": {trunk: pbx}
other:  {a: 1}     # aligned on purpose
"""


def test_edit_block_entry_keeps_comments_and_the_rest_byte_for_byte() -> None:
    new = edit_text(BLOCK, "+14155550100", Change(direction="inbound", agent=""))
    assert changed(BLOCK, new) == ["-    direction: both", "-    agent: echo",
                                   "+    direction: inbound"]
    new = edit_text(BLOCK, "+14155550101", Change(direction="outbound"))
    assert changed(BLOCK, new) == ['-  "+14155550101": {trunk: pbx}',
                                   '+  "+14155550101": {trunk: pbx, direction: outbound}']
    assert new.endswith("other:  {a: 1}     # aligned on purpose\n")


def test_edit_errors() -> None:
    with pytest.raises(EditError, match="defines no number"):
        edit_text(BLOCK, "+14155550199", Change(direction="inbound"))
    with pytest.raises(EditError, match="expected one of"):
        edit_text(BLOCK, "+14155550100", Change(direction="sideways"))


def test_write_atomic_keeps_the_mode(tmp_path: Path) -> None:
    f = tmp_path / "v.yaml"
    f.write_text("a: 1\n")
    f.chmod(0o640)
    write_atomic(f, "a: 2\n")
    assert f.read_text() == "a: 2\n" and f.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["v.yaml"]


def test_auth_bearer_and_cookie() -> None:
    auth = Auth(TOKEN)
    assert auth.allowed({"Authorization": f"Bearer {TOKEN}"})
    assert not auth.allowed({"Authorization": "Bearer nope"})
    assert not auth.allowed({})
    cookie = auth.set_cookie().split(";", 1)[0]
    assert cookie.startswith(f"{COOKIE}=") and TOKEN not in cookie  # an HMAC, not the token
    assert "HttpOnly" in auth.set_cookie() and "SameSite=Strict" in auth.set_cookie()
    assert auth.allowed({"Cookie": f"other=1; {cookie}"})
    assert not auth.allowed({"Cookie": f"{COOKIE}=forged"})
    assert not Auth("another-token-0123456789").allowed({"Cookie": cookie})


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)),
    ("bytes=-100", (900, 999)), ("bytes=990-2000", (990, 999)), ("bytes=0-1,5-9", None),
    ("items=0-1", None),
])
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0"])
def test_parse_range_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)

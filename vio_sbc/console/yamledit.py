"""Editing a number where it is defined, keeping the file as its author wrote it.

The YAML stays the source of truth: a console edit changes the number's entry in the
file that defines it and nothing else. ruamel.yaml's round-trip mode keeps comments,
quoting, flow or block style and key order; what it would still normalise elsewhere in
the file (the spacing of an aligned value) is not taken: only the lines of the edited
entry come from its output, every other line is the original's, byte for byte.

Then the edit is checked by the same loader as any config (`load_config` with the new
text in place of the file's), written atomically (same mode), and applied by the same
hot reload as `vio-sbc reload`.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

DEFAULT_AGENT = ""  # the form's value for "the workspace default answers"
DIRECTIONS = ("inbound", "outbound", "both")


class EditError(Exception):
    """The edit cannot be made; `issues` are the lines to show (FILE:LINE: ... when the
    loader refused the result)."""

    def __init__(self, issues: list[str]) -> None:
        super().__init__("; ".join(issues))
        self.issues = issues


@dataclass(frozen=True, slots=True)
class Change:
    direction: str | None = None  # None: unchanged
    agent: str | None = None  # None: unchanged; DEFAULT_AGENT: remove the number's agent


def _yaml() -> YAML:
    y = YAML()  # round-trip
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _entry_lines(doc: Any, number: str, n_lines: int) -> tuple[int, int]:
    """0-based [first, last] line of the number's entry under `numbers:`."""
    numbers = doc["numbers"]
    keys = list(numbers)
    first = numbers.lc.key(number)[0]
    ends = [numbers.lc.key(k)[0] for k in keys[keys.index(number) + 1:]][:1]
    ends += [doc.lc.key(k)[0] for k in doc if doc.lc.key(k)[0] > first][:1]
    return first, (min(ends) if ends else n_lines) - 1


def edit_text(text: str, number: str, change: Change, file: str = "config") -> str:
    """`text` with the number's direction and/or agent changed (pure)."""
    if change.direction is not None and change.direction not in DIRECTIONS:
        raise EditError([f"direction {change.direction!r}: expected one of "
                         f"{', '.join(DIRECTIONS)}"])
    y = _yaml()
    try:
        doc = y.load(text)
    except YAMLError as exc:
        raise EditError([f"{file}: not YAML this editor can keep: {exc}"]) from None
    try:
        entry = doc["numbers"][number]
    except (KeyError, TypeError):
        raise EditError([f"{file}: defines no number {number}"]) from None
    if not hasattr(entry, "lc"):
        raise EditError([f"{file}: number {number} is not a mapping"])
    if change.direction is not None:
        entry["direction"] = change.direction
    if change.agent == DEFAULT_AGENT:
        entry.pop("agent", None)
    elif change.agent is not None:
        entry["agent"] = change.agent
    out = io.StringIO()
    y.dump(doc, out)
    old_lines = text.splitlines(keepends=True)
    new_lines = out.getvalue().splitlines(keepends=True)
    o_first, o_last = _entry_lines(doc, number, len(old_lines))
    n_first, n_last = _entry_lines(y.load(out.getvalue()), number, len(new_lines))
    # blank and comment-only lines after the entry (before the next key) stay the original's
    o_last = _last_content(old_lines, o_first, o_last)
    n_last = _last_content(new_lines, n_first, n_last)
    return "".join(old_lines[:o_first] + new_lines[n_first:n_last + 1]
                   + old_lines[o_last + 1:])


def _last_content(lines: list[str], first: int, last: int) -> int:
    """The last line of [first, last] that is neither blank nor only a comment."""
    while last > first and (not lines[last].strip() or lines[last].lstrip().startswith("#")):
        last -= 1
    return last


def write_atomic(path: str | Path, text: str) -> None:
    """Replace the file's content in one rename, keeping its mode."""
    target = Path(path)
    mode = target.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""YAML syntax errors as a person can act on them (pure).

PyYAML's messages name the parser's state ("while parsing a flow mapping, expected ','
or '}', but got '{'"); `describe` keeps that text, adds the column, and when the line
matches a mistake people make (an unquoted `${VAR}` inside `{ }`, a tab, a `: ` in an
unquoted value, an unclosed quote) says what to write instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import yaml


def _hint(problem: str, context: str, source: str) -> str | None:
    if "'\\t'" in problem:
        return "tabs cannot indent YAML: indent with spaces"
    if ("expected ',' or '}'" in problem or "expected ',' or ']'" in problem) and \
            "${" in source:
        return 'a ${VAR} inside { } or [ ] must be quoted: write "${VAR}"'
    if "mapping values are not allowed" in problem:
        return ("a value containing ': ' must be quoted, or this line is indented deeper "
                "than the key above it")
    if "quoted scalar" in context and "end of stream" in problem:
        return "a quote is not closed"
    if "could not find expected ':'" in problem:
        return "a key without its ':' (or a quote not closed)"
    if "expected <block end>" in problem:
        return "this line's indentation does not line up with the keys above it"
    return None


def describe(text: str, exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    """(line, message) of a YAML syntax error in `text`."""
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return 0, f"invalid YAML: {exc}"
    problem, context = exc.problem or "", exc.context or ""
    lines = text.splitlines()
    source = lines[mark.line] if mark.line < len(lines) else ""
    what = ", ".join(p for p in (context, problem) if p)
    ctx = exc.context_mark
    if context and ctx is not None and exc.problem_mark is not None and ctx.line != mark.line:
        what += f" (it started at line {ctx.line + 1}, column {ctx.column + 1})"
    message = f"invalid YAML at column {mark.column + 1}: {what}"
    hint = _hint(problem, context, source)
    return mark.line + 1, message + (f"; {hint}" if hint else "")


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The option `word` was most likely meant to be (a typo), or None."""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return found[0] if found else None

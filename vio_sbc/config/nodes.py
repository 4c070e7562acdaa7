"""Located YAML values and the generic converters the config schema is built from.

The loader works on the node tree from `yaml.compose`, so every value keeps the
line it came from. An `Item` is one node plus its file, dotted key path and the
line to blame. Converters take an `Item` and either return a Python value or
raise `Invalid(message)`; `section` runs a mapping through a table of
converters and records every problem in `Issues` instead of stopping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from vio_sbc.errors import ConfigIssue

_TAG = "tag:yaml.org,2002:"
STR = _TAG + "str"
INT = _TAG + "int"
FLOAT = _TAG + "float"
BOOL = _TAG + "bool"
NULL = _TAG + "null"
_KINDS = {
    STR: "string", INT: "integer", FLOAT: "number", BOOL: "boolean", _TAG + "timestamp": "date",
}


class Issues:
    """Every problem found so far, in the order found."""

    def __init__(self) -> None:
        self.items: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []  # valid but suspicious; never fail the load
        self.secrets: list[str] = []  # values read from secret files (for redaction)

    def warn(self, item: Item, message: str) -> None:
        self.warnings.append(ConfigIssue(item.file, item.line, item.path, message))

    def add(self, file: str, line: int, path: str, message: str) -> None:
        self.items.append(ConfigIssue(file, line, path, message))

    def at(self, item: Item, message: str) -> None:
        self.add(item.file, item.line, item.path, message)


class Invalid(Exception):
    """The value of one item is wrong; the caller records `message` at that item."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Reported(Exception):
    """The value is unusable and its problems were already recorded."""


@dataclass(frozen=True, slots=True)
class Doc:
    """One YAML file: its display name and the ${...} templates of substituted values."""

    file: str
    templates: dict[int, str] = field(default_factory=dict)  # id(node) -> text as written
    broken: set[int] = field(default_factory=set)  # ids of nodes with a bad ${...} (reported)


def line_of(node: Node) -> int:
    mark = node.start_mark
    return mark.line + 1 if mark is not None else 0


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass(frozen=True, slots=True)
class Item:
    """A node with its location: `line` is blamed for a bad value, `key_line` for a
    missing sub-key (the line of the key naming this item)."""

    node: Node
    doc: Doc
    path: str
    line: int
    key_line: int
    key_tag: str = ""  # YAML tag of the key naming this item (an unquoted +1415... is int)

    @classmethod
    def root(cls, node: Node, doc: Doc) -> Item:
        return cls(node, doc, "", line_of(node), line_of(node))

    @property
    def file(self) -> str:
        return self.doc.file

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, ScalarNode) and self.node.tag == NULL

    @property
    def tag(self) -> str:
        return self.node.tag if isinstance(self.node, ScalarNode) else ""

    @property
    def shown(self) -> str:
        """The scalar as it may appear in a message: ${...} references are not expanded,
        so an error never prints a secret."""
        template = self.doc.templates.get(id(self.node))
        if template is not None:
            return repr(template)
        text = str(self.node.value)
        return repr(text) if self.node.tag == STR else text

    def child(self, key: str, key_node: Node, value: Node) -> Item:
        key_line = line_of(key_node)
        empty = isinstance(value, ScalarNode) and value.value == "" and not value.style
        return Item(value, self.doc, join(self.path, key), key_line if empty else line_of(value),
                    key_line, key_node.tag)

    def index(self, i: int, node: Node) -> Item:
        line = line_of(node)
        return Item(node, self.doc, f"{self.path}[{i}]", line, line)


def describe(item: Item) -> str:
    """`string 'abc'`, `integer 5`, `a list`... for "expected X, got Y" messages."""
    node = item.node
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL:
        return "null"
    return f"{_KINDS.get(node.tag, node.tag)} {item.shown}"


def construct(node: Node) -> Any:
    """The plain Python data of a node (for values kept as opaque data)."""
    return yaml.constructor.SafeConstructor().construct_document(node)


def unknown_key(key: str, allowed: Iterable[str]) -> str:
    from vio_sbc.config.yamlerrors import did_you_mean

    options = sorted(allowed)
    guess = did_you_mean(key, options)
    mean = f"did you mean {guess!r}? " if guess else ""
    return f"unknown key {key!r} ({mean}expected one of: {', '.join(options)})"


def entries(item: Item, issues: Issues, *, null_ok: bool = True) -> list[tuple[str, Item]] | None:
    """The (key, value item) pairs of a mapping; None (after recording why) if it is not
    one. A null value is an empty mapping when `null_ok`. For a duplicated key only the
    first entry is returned (the duplicate was reported when the file was read)."""
    node = item.node
    if item.is_null and null_ok:
        return []
    if not isinstance(node, MappingNode):
        issues.at(item, f"expected a mapping, got {describe(item)}")
        return None
    out: list[tuple[str, Item]] = []
    seen: set[tuple[str, str]] = set()
    for key_node, value in node.value:
        if not isinstance(key_node, ScalarNode):
            issues.add(item.file, line_of(key_node), item.path, "keys must be plain strings")
            continue
        if (key_node.tag, key_node.value) in seen:
            continue
        seen.add((key_node.tag, key_node.value))
        out.append((key_node.value, item.child(key_node.value, key_node, value)))
    return out


Conv = Callable[[Item, Issues], Any]


@dataclass(slots=True)
class Section:
    values: dict[str, Any]  # converted values of the keys that were valid
    items: dict[str, Item]  # every known key present, valid or not
    extras: dict[str, Item]  # keys not in the spec (only when extras were allowed)


def section(item: Item, spec: Mapping[str, Conv | None], issues: Issues, *,
            required: Iterable[str] = (), extras: bool = False,
            null_ok: bool = True) -> Section | None:
    """Check a mapping against `spec` (key -> converter; None: the caller converts it).
    Unknown keys, missing required keys and bad values are all recorded."""
    pairs = entries(item, issues, null_ok=null_ok)
    if pairs is None:
        return None
    sec = convert(pairs, spec, issues, extras=extras)
    for key in required:
        if key not in sec.items:
            issues.add(item.file, item.key_line, item.path, f"missing required key {key!r}")
    return sec


def convert(pairs: Iterable[tuple[str, Item]], spec: Mapping[str, Conv | None], issues: Issues,
            *, extras: bool = False) -> Section:
    """Run (key, item) pairs through `spec`; keys not in it are extras (when allowed) or
    reported as unknown."""
    sec = Section({}, {}, {})
    for key, child in pairs:
        if key not in spec:
            if extras:
                sec.extras[key] = child
            else:
                issues.add(child.file, child.key_line, child.path, unknown_key(key, spec))
            continue
        sec.items[key] = child
        conv = spec[key]
        if conv is None or id(child.node) in child.doc.broken:
            continue
        try:
            sec.values[key] = conv(child, issues)
        except Invalid as exc:
            issues.at(child, exc.message)
        except Reported:
            pass
    return sec


# --- converters ----------------------------------------------------------------------


def str_value(item: Item) -> str:
    if item.tag != STR:
        raise Invalid(f"expected a string, got {describe(item)}")
    return str(item.node.value)


def string(*, nonempty: bool = False) -> Conv:
    def conv(item: Item, issues: Issues) -> str:
        value = str_value(item)
        if nonempty and not value:
            raise Invalid("must not be empty")
        return value

    return conv


def _check_conv(conv: object) -> None:
    """Converters are built at import: a field name shadowing a converter in a class
    body (`host: str = ...` then `nullable(host)`) fails there, not at load."""
    if not callable(conv):
        raise TypeError(f"not a converter: {conv!r}")


def nullable(conv: Conv) -> Conv:
    _check_conv(conv)

    def wrapped(item: Item, issues: Issues) -> Any:
        return None if item.is_null else conv(item, issues)

    return wrapped


def _check_range(item: Item, value: float, lo: float | None, hi: float | None) -> None:
    shown = item.shown
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise Invalid(f"must be between {lo:g} and {hi:g}, got {shown}")
    if lo is not None and hi is None and value < lo:
        raise Invalid(f"must be at least {lo:g}, got {shown}")
    if hi is not None and lo is None and value > hi:
        raise Invalid(f"must be at most {hi:g}, got {shown}")


def integer(lo: int | None = None, hi: int | None = None) -> Conv:
    def conv(item: Item, issues: Issues) -> int:
        if item.tag != INT:
            raise Invalid(f"expected an integer, got {describe(item)}")
        value = int(construct(item.node))
        _check_range(item, value, lo, hi)
        return value

    return conv


def number(lo: float | None = None, hi: float | None = None, *,
           positive: bool = False) -> Conv:
    def conv(item: Item, issues: Issues) -> float:
        if item.tag not in (INT, FLOAT):
            raise Invalid(f"expected a number, got {describe(item)}")
        value = float(construct(item.node))
        if not math.isfinite(value):
            raise Invalid(f"must be a finite number, got {item.shown}")
        if positive and value <= 0:
            raise Invalid(f"must be greater than 0, got {item.shown}")
        _check_range(item, value, lo, hi)
        return value

    return conv


def boolean(item: Item, issues: Issues) -> bool:
    if item.tag != BOOL:
        raise Invalid(f"expected true or false, got {describe(item)}")
    return bool(construct(item.node))


def _choice_message(item: Item, options: Iterable[str]) -> str:
    expected = ", ".join(options)
    if isinstance(item.node, ScalarNode) and not item.is_null:
        return f"invalid value {item.shown} (expected one of: {expected})"
    return f"expected one of: {expected}; got {describe(item)}"


def choice(*options: str) -> Conv:
    """A string that must be one of `options`."""

    def conv(item: Item, issues: Issues) -> str:
        if item.tag == STR and item.node.value in options:
            return str(item.node.value)
        raise Invalid(_choice_message(item, options))

    return conv


def int_choice(*options: int) -> Conv:
    def conv(item: Item, issues: Issues) -> int:
        if item.tag == INT and (value := int(construct(item.node))) in options:
            return value
        raise Invalid(_choice_message(item, (str(o) for o in options)))

    return conv


def list_of(conv: Conv, *, nonempty: bool = False, unique: bool = False,
            noun: str = "value") -> Conv:
    """A list whose elements each go through `conv`; every bad element is reported
    (with `unique`, a repeated one as "duplicate <noun> ...")."""
    _check_conv(conv)

    def wrapped(item: Item, issues: Issues) -> tuple[Any, ...]:
        elements = list_items(item)
        if nonempty and not elements:
            raise Invalid("must not be empty")
        out: list[Any] = []
        failed = False
        for element in elements:
            if id(element.node) in element.doc.broken:
                failed = True
                continue
            try:
                value = conv(element, issues)
            except Invalid as exc:
                issues.at(element, exc.message)
                failed = True
                continue
            except Reported:
                failed = True
                continue
            if unique and value in out:
                issues.at(element, f"duplicate {noun} {element.shown}")
                failed = True
                continue
            out.append(value)
        if failed:
            raise Reported
        return tuple(out)

    return wrapped


def list_items(item: Item) -> list[Item]:
    if not isinstance(item.node, SequenceNode):
        raise Invalid(f"expected a list, got {describe(item)}")
    return [item.index(i, node) for i, node in enumerate(item.node.value)]


_DIGITS = re.compile(r"[0-9]+")


def digits(max_len: int | None = None) -> Conv:
    """A string of digits. An unquoted number is taken as written (so `011` stays
    "011" instead of YAML's octal 9)."""

    def conv(item: Item, issues: Issues) -> str:
        text = str(item.node.value) if item.tag in (STR, INT) else ""
        if not _DIGITS.fullmatch(text):
            raise Invalid(f"expected a string of digits, got {describe(item)}")
        if max_len is not None and len(text) > max_len:
            raise Invalid(f"must be at most {max_len} digits, got {item.shown}")
        return text

    return conv

"""Settings declared once: a model field carries the converter that reads its YAML key.

    rate: float = field(default=20.0, metadata=setting(number(positive=True)))

The field's name is the key, its default the value of an absent key, and a field
without a default is a required key. From these, `spec_of(cls)` generates the
key -> converter table `nodes.section` checks a mapping against, `read()` checks a
mapping and builds the dataclass, `sub(cls)` is the converter of a nested section
and `top(cls)` the builder of a top-level one. Fields without `setting` metadata
(a trunk's `name`, `file`, `line`) are not keys: builders pass them in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from vio_sbc.config.nodes import Conv, Issues, Item, Reported, Section, convert, section
from vio_sbc.config.secret_schema import secret_keys, take_file_secret

T = TypeVar("T")
SETTING = "vio_sbc.config.setting"


@dataclass(frozen=True, slots=True)
class Setting:
    conv: Conv | None  # None: the section's builder converts the key (it needs other keys)
    secret: bool = False  # `KEY: ${ENV}` or `KEY_file: PATH` (vio_sbc.config.secret_schema)


def setting(conv: Conv | None, *, secret: bool = False) -> dict[str, Setting]:
    """Field metadata: `conv` reads the key named like the field."""
    if conv is not None and not callable(conv):
        raise TypeError(f"not a converter: {conv!r}")
    return {SETTING: Setting(conv, secret)}


_CACHE: dict[type[Any], tuple[tuple[dataclasses.Field[Any], Setting], ...]] = {}


def _settings(cls: type[Any]) -> tuple[tuple[dataclasses.Field[Any], Setting], ...]:
    found = _CACHE.get(cls)
    if found is None:
        found = _CACHE[cls] = tuple((f, f.metadata[SETTING]) for f in dataclasses.fields(cls)
                                    if SETTING in f.metadata)
    return found


def spec_of(cls: type[Any]) -> dict[str, Conv | None]:
    """The section spec of `cls`: each setting's key and converter (secrets: both keys)."""
    spec: dict[str, Conv | None] = {}
    for f, s in _settings(cls):
        spec.update(secret_keys(f.name) if s.secret else {f.name: s.conv})
    return spec


def required_of(cls: type[Any]) -> tuple[str, ...]:
    """The settings without a default: required keys."""
    return tuple(f.name for f, _ in _settings(cls)
                 if f.default is dataclasses.MISSING
                 and f.default_factory is dataclasses.MISSING)


def read(cls: type[T], item: Item, issues: Issues, *, required: Iterable[str] | None = None,
         null_ok: bool = True, extras: bool = False,
         fixed: dict[str, Any] | None = None) -> tuple[T | None, Section | None]:
    """Check the mapping `item` against `cls`'s settings and build `cls` from the keys
    that are valid (defaults for the rest). The object is None when the mapping is not
    one or a required setting has no valid value; every problem is in `issues`.
    `fixed` holds the fields that are not keys (and keys the builder converted)."""
    sec = section(item, spec_of(cls), issues, extras=extras, null_ok=null_ok,
                  required=required_of(cls) if required is None else required)
    if sec is None:
        return None, None
    return _build(cls, sec, issues, fixed), sec


def read_pairs(cls: type[T], pairs: Mapping[str, Item], issues: Issues, *,
               fixed: dict[str, Any] | None = None) -> tuple[T | None, Section]:
    """`read` over keys already taken from a mapping (another section's extras); keys
    that are not `cls`'s settings stay extras. Required keys are the caller's to check."""
    sec = convert(pairs.items(), spec_of(cls), issues, extras=True)
    return _build(cls, sec, issues, fixed), sec


def _build(cls: type[T], sec: Section, issues: Issues, fixed: dict[str, Any] | None) -> T | None:
    for f, s in _settings(cls):
        if s.secret:
            take_file_secret(sec, f.name, issues)
    values = {**{f.name: sec.values[f.name] for f, _ in _settings(cls) if f.name in sec.values},
              **(fixed or {})}
    if any(name not in values for name in required_of(cls)):
        return None
    return cls(**values)


def sub(cls: type[T], *, required: Iterable[str] | None = None, null_ok: bool = True,
        strict: bool = False) -> Conv:
    """The converter of a nested section: `cls` from the mapping's valid keys. Unusable
    (not a mapping, a required key missing or, when `strict`, any bad key): Reported."""

    def conv(item: Item, issues: Issues) -> T:
        obj, sec = read(cls, item, issues, required=required, null_ok=null_ok)
        if obj is None or sec is None or (strict and len(sec.values) != len(sec.items)):
            raise Reported
        return obj

    return conv


def top(cls: type[T]) -> Callable[[Item | None, Issues], T]:
    """The builder of a top-level section: `cls()` when absent or unusable."""

    def build(item: Item | None, issues: Issues) -> T:
        obj = read(cls, item, issues)[0] if item is not None else None
        return cls() if obj is None else obj

    return build

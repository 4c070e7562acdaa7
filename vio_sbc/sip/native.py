"""Run-time switches that our pjproject patches (scripts/pjproject-patches/) export.

The patches add plain C globals/functions with a `vio_` prefix to the pjsua2
extension. pjsua2's SWIG layer does not wrap them, so they are reached with ctypes
on the extension module that `import pjsua2` has already loaded (dlopen returns
the same handle). Without the patch the symbol is absent: callers get None and
must refuse a configuration that needs it, naming the library.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    import _pjsua2  # type: ignore[import-not-found]  # the SWIG extension behind pjsua2

    return ctypes.CDLL(_pjsua2.__file__)


def library_path() -> str:
    return str(library()._name)


def symbol(name: str, ctype: Any = None) -> Any:
    """The patch's global `name` as a ctypes value of `ctype` (read/write through
    `.value`), or its function when `ctype` is None; None when the library lacks it."""
    lib = library()
    try:
        if ctype is None:
            return getattr(lib, name)
        return ctype.in_dll(lib, name)
    except (AttributeError, ValueError):
        return None

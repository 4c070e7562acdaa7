"""The house rules, checked on the source: no import cycle among vio_sbc's modules
(counting every import: module level, inside functions, and under `if TYPE_CHECKING:`),
no module over 400 lines (tests and scripts included), no database driver outside the
rooms that own a database (`calllog/`, and the dialer's own store), and no SQL text
outside them either.

The graph is read from the source (ast), not from an interpreter run, so an import
that only a type checker follows still counts. An edge goes to the module named:
`from vio_sbc.calllog import CallLog` is an edge to the package `vio_sbc.calllog`,
`from vio_sbc.calllog import store` one to `vio_sbc.calllog.store`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vio_sbc"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules `name` imports (every import statement in the file)."""
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    yield sub
                elif target in known:
                    yield target


def graph() -> dict[str, set[str]]:
    mods = project_modules()
    known = set(mods)
    return {name: set(imports(name, path, known)) - {name} for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle_through_type_checking_imports(tmp_path: Path) -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    src = tmp_path / "m.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                   "    from vio_sbc.sip.switch import Softswitch\n"
                   "def f():\n    from vio_sbc import log\n")
    found = set(imports("vio_sbc.x", src, {"vio_sbc", "vio_sbc.log", "vio_sbc.sip.switch"}))
    assert found == {"vio_sbc.sip.switch", "vio_sbc.log"}


def test_no_import_cycle_among_project_modules() -> None:
    found = cycles(graph())
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


MAX_LINES = 400
DATABASE_ROOMS = ("vio_sbc.calllog", "vio_sbc.dialer")
DRIVERS = {"sqlite3", "sqlite_utils", "psycopg", "psycopg2"}


# the tests and scripts follow the same rule (bench/ is not checked yet: capacity.py is
# being rewritten from a fresh run)
OTHER_ROOTS = ("tests", "scripts")


def test_no_module_over_400_lines() -> None:
    paths = [*project_modules().values(),
             *(p for root in OTHER_ROOTS for p in (PACKAGE.parent / root).rglob("*.py"))]
    long = {str(path.relative_to(PACKAGE.parent)): n for path in paths
            if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}


SQL_ROOMS = ("vio_sbc.calllog", "vio_sbc.dialer.store", "vio_sbc.dialer.schema")
SQL = re.compile(r"^\s*(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                 r"DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|ALTER\s+TABLE|PRAGMA)\b", re.S)


def sql_texts(path: Path) -> list[str]:
    """String constants (f-strings' literal parts included) that start an SQL statement."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(
                node.value):
            found.append(node.value.strip().splitlines()[0][:60])
    return found


def test_the_sql_checker_finds_a_statement(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text('q = "SELECT id FROM calls WHERE x = ?"\n'
                   'u = f"UPDATE calls SET status = {1}"\nd = "select a response time"\n')
    assert sql_texts(mod) == ["SELECT id FROM calls WHERE x = ?", "UPDATE calls SET status ="]


def test_no_sql_outside_the_call_log_and_the_dialer_store() -> None:
    outside = {name: texts for name, path in project_modules().items()
               if not name.startswith(SQL_ROOMS) and (texts := sql_texts(path))}
    assert outside == {}


def test_database_drivers_only_in_the_rooms_that_own_a_database() -> None:
    outside = {}
    for name, path in project_modules().items():
        if name.startswith(DATABASE_ROOMS):
            continue
        used = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                used |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                used.add(node.module.split(".")[0])
        if used & DRIVERS:
            outside[name] = sorted(used & DRIVERS)
    assert outside == {}

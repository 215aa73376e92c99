"""The import graph of ``src/shipyard``: no circles, and imports point down the layers.

Every module is parsed with ``ast``; its imports are collected wherever they are,
at the top or inside a function (an import hidden in a function still ties two
modules together). Imports under ``if TYPE_CHECKING:`` count too: they never run,
but they are how one module names another's types, and a circle of types is the
same knot for a reader, so the graph keeps them (as ``import-circles`` does).

``from pkg import name`` is an edge to ``pkg.name`` when that is a module, and to
``pkg`` (its ``__init__`` runs) as well. Alembic's migration scripts are left out:
they are loaded by path, never imported.

Layers (imports point down only)::

    cli, web, demo            interfaces
    services                  composition root and use cases
    store, adapters           the database; the outside world
    core                      pure
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# What each layer must never import (by the first part under the root package).
FORBIDDEN = {
    "core": {"store", "adapters", "services", "cli", "web", "demo"},
    "store": {"services", "cli", "web", "demo"},
    "adapters": {"services", "cli", "web", "demo"},
    "services": {"cli", "web", "demo"},
}


def modules_of(src: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``src`` by dotted name (a package by its own)."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        if "migrations" in path.relative_to(src).parts:
            continue
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The module ``name`` is, or the innermost known module holding it."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.AST, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            up = parts[: len(parts) - node.level + 1]
            base = ".".join(up + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


def import_graph(src: Path, package: str) -> dict[str, dict[str, int]]:
    """module -> {module it imports: the line of the first such import}."""
    known = modules_of(src, package)
    graph: dict[str, dict[str, int]] = {m: {} for m in known}
    for module, path in known.items():
        home = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, home):
                found = _resolve(target, known)
                if found and found != module:
                    graph[module].setdefault(found, getattr(node, "lineno", 0))
    return graph


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def describe(circle: list[str], graph: Mapping[str, Mapping[str, int]]) -> str:
    edges = [f"  {a}:{graph[a][b]} -> {b}" for a in circle for b in sorted(graph[a]) if b in circle]
    return f"circle of {len(circle)} modules:\n" + "\n".join(edges)


def layer_breaches(graph: Mapping[str, Mapping[str, int]], package: str) -> list[str]:
    """``a:line -> b`` for each import from a layer into one it must not import."""

    def layer(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else ""

    out = []
    for a, targets in sorted(graph.items()):
        for b, line in sorted(targets.items()):
            if layer(b) in FORBIDDEN.get(layer(a), set()):
                out.append(f"{a}:{line} -> {b}")
    return out


# -- the product ----------------------------------------------------------------------


def test_no_import_circle_in_src() -> None:
    graph = import_graph(SRC, "shipyard")
    assert len(graph) > 100  # the walk found the package
    found = circles(graph)
    assert not found, "\n".join(describe(c, graph) for c in found)


def test_imports_point_down_the_layers() -> None:
    breaches = layer_breaches(import_graph(SRC, "shipyard"), "shipyard")
    assert breaches == [], "imports against the layers:\n" + "\n".join(breaches)


INTERFACES = ("cli", "web", "demo")


def sql_above_services(src: Path, package: str) -> list[str]:
    """Places in the interfaces (cli/, web/, demo/) that import SQLAlchemy: they build SQL."""
    found = []
    for module, path in modules_of(src, package).items():
        if module.split(".")[1:2] and module.split(".")[1] in INTERFACES:
            home = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if any(t.split(".")[0] == "sqlalchemy" for t in _targets(node, home)):
                    found.append(f"{module}:{getattr(node, 'lineno', 0)}")
    return found


def test_no_sql_above_services() -> None:
    """The interfaces read through services and ``store.queries``, never with SQL of their own."""
    assert sql_above_services(SRC, "shipyard") == []


# -- the checker itself, on planted packages --------------------------------------------


def plant(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_circle_through_a_function_local_import_is_found(tmp_path: Path) -> None:
    src = plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import helper\n",
            "pkg/b.py": "def helper():\n    from pkg import c\n    return c\n",
            "pkg/c.py": "from . import a\n",
            "pkg/d.py": "import pkg.a\n",
        },
    )
    graph = import_graph(src, "pkg")
    assert graph["pkg.c"] == {"pkg": 1, "pkg.a": 1}
    found = circles(graph)
    assert found == [["pkg.a", "pkg.b", "pkg.c"]]
    assert "pkg/b.py" not in describe(found[0], graph)
    assert "pkg.b:2 -> pkg.c" in describe(found[0], graph)


def test_a_circle_through_a_re_exporting_package_init_is_found(tmp_path: Path) -> None:
    src = plant(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.impl import run\n",
            "pkg/impl.py": "from pkg import types\n",
            "pkg/types.py": "",
        },
    )
    assert circles(import_graph(src, "pkg")) == [["pkg", "pkg.impl"]]


def test_a_type_checking_import_counts(tmp_path: Path) -> None:
    src = plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
        },
    )
    assert circles(import_graph(src, "pkg")) == [["pkg.a", "pkg.b"]]


def test_imports_in_one_direction_make_no_circle(tmp_path: Path) -> None:
    src = plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "import pkg.b\nfrom pkg.c import x\n",
            "pkg/b.py": "from pkg.c import y\n",
            "pkg/c.py": "import os\nx = y = 1\n",
        },
    )
    graph = import_graph(src, "pkg")
    assert graph["pkg.a"] == {"pkg.b": 1, "pkg.c": 2}
    assert circles(graph) == []


@pytest.mark.parametrize(
    ("module", "imports", "breach"),
    [
        ("core/x.py", "from pkg.store.y import z\n", True),
        ("store/x.py", "def f():\n    import pkg.services.y\n", True),
        ("adapters/x.py", "from pkg.web import y\n", True),
        ("services/x.py", "from pkg.cli.y import z\n", True),
        ("services/x.py", "from pkg.store.y import z\n", False),
        ("web/x.py", "from pkg.services.y import z\n", False),
    ],
)
def test_a_planted_import_against_the_layers_is_found(
    tmp_path: Path, module: str, imports: str, breach: bool
) -> None:
    files = {"pkg/__init__.py": "", f"pkg/{module}": imports}
    for layer in ("core", "store", "adapters", "services", "cli", "web"):
        files[f"pkg/{layer}/__init__.py"] = ""
        files[f"pkg/{layer}/y.py"] = ""
    breaches = layer_breaches(import_graph(plant(tmp_path, files), "pkg"), "pkg")
    assert bool(breaches) is breach, breaches


def test_sql_in_an_interface_is_found(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/web/__init__.py": "",
            "pkg/web/page.py": "def f():\n    from sqlalchemy import select\n    return select\n",
            "pkg/services/q.py": "from sqlalchemy import select\n",
        },
    )
    assert sql_above_services(root, "pkg") == ["pkg.web.page:2"]

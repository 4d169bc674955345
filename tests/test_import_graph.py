"""The import graph of ``workforce/``, read from the source: no module imports itself
through others, and the domain never imports the web layer (the house plan's layers).

Every ``import`` statement counts, those inside functions and under ``TYPE_CHECKING``
too: an import moved into a function to dodge a cycle is still the cycle. An import
depends on the module it names (``from workforce.projects import access`` on
``workforce.projects.access``; ``from workforce.billing.models import PayoutRun`` on
``workforce.billing.models``), not on the packages above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import workforce

PACKAGE = Path(workforce.__file__).parent
WEB = ("flask", "flask_", "workforce.api")

# None today. An allowance written here must say why; the test fails once it is not needed.
KNOWN_CYCLES: set[frozenset[str]] = set()


def import_graph(package: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For each module of ``package``: the modules of the package it imports, and every
    name it imports (outside ones included), as written."""
    files = {_module_name(package, path): path for path in sorted(package.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for module, path in files.items():
        names[module] = _imported(module, path, files)
        found = {_nearest(name, files) for name in names[module]}
        graph[module] = {name for name in found if name is not None and name != module}
    return graph, names


def _module_name(package: Path, path: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, path: Path, files: dict[str, Path]) -> set[str]:
    here = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in files else base)
    return found


def _nearest(name: str, files: dict[str, Path]) -> str | None:
    """The module of the package that importing ``name`` runs, if any."""
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The groups of modules that reach each other through their imports."""
    reach = {module: _reachable(graph, module) for module in graph}
    return {
        frozenset({module, *(other for other in reach[module] if module in reach[other])})
        for module in graph if module in reach[module]
    }


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for following in graph[todo.pop()] - seen:
            seen.add(following)
            todo.append(following)
    return seen


def _describe(group: frozenset[str], graph: dict[str, set[str]]) -> str:
    return "\n".join(f"  {module} imports {', '.join(sorted(graph[module] & group))}"
                     for module in sorted(group))


def test_no_module_imports_itself_through_others() -> None:
    graph, _ = import_graph(PACKAGE)
    found = cycles(graph)
    unexpected = found - KNOWN_CYCLES
    assert not unexpected, "import cycles:\n" + "\n\n".join(
        _describe(group, graph) for group in sorted(unexpected, key=sorted))
    stale = KNOWN_CYCLES - found
    assert not stale, f"no longer a cycle, delete its allowance: {sorted(map(sorted, stale))}"


def test_the_domain_never_imports_the_web_layer() -> None:
    _, names = import_graph(PACKAGE)
    offending = {
        module: sorted(name for name in imported if name.startswith(WEB))
        for module, imported in names.items() if not _is_web(module)
    }
    assert {module: found for module, found in offending.items() if found} == {}


def _is_web(module: str) -> bool:
    """The API, and the entry points that build the app or serve it (``app``, the CLI)."""
    return (module.startswith("workforce.api") or module == "workforce.app"
            or module.rpartition(".")[2] == "cli")


def test_a_cycle_closed_inside_a_function_is_found(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    (package / "orders").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "orders" / "__init__.py").write_text("")
    (package / "orders" / "cart.py").write_text("from shop import prices\n")
    (package / "prices.py").write_text(
        "import flask\n\ndef total():\n    from .orders.cart import Cart\n")
    graph, names = import_graph(package)
    assert graph == {"shop": set(), "shop.orders": set(), "shop.orders.cart": {"shop.prices"},
                     "shop.prices": {"shop.orders.cart"}}
    assert cycles(graph) == {frozenset({"shop.orders.cart", "shop.prices"})}
    assert "flask" in names["shop.prices"]

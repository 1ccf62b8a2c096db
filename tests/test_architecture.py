"""The house's rules, read from the code itself so they keep holding as it grows.

Imports flow bot → pulses → storage; the domain talks to no Slack library; nothing the bot
ships depends on the sandbox; no two modules import each other, directly or round a circle;
and every source file stays small enough to be one concept (migrations excepted).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "pulses", "storage", "sandbox", "benchmarks")
MAX_LINES = 500

# (importing package, imported top-level name) pairs that break the layering.
FORBIDDEN: dict[str, frozenset[str]] = {
    "storage": frozenset({"bot", "pulses", "sandbox", "slack_sdk", "slack_bolt"}),
    "pulses": frozenset({"bot", "sandbox", "slack_sdk", "slack_bolt"}),
    "bot": frozenset({"sandbox"}),
}


def _source_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imported_names(path.read_text(), package=package)


def _imported_names(source: str, *, package: str) -> set[str]:
    """Every module the source imports, absolute, at any depth (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from pulses import admin` imports the module pulses.admin.
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    """Project module → project modules it imports (names that are not modules dropped)."""
    files = {_module_name(path): path for path in _source_files()}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        graph[module] = {name for name in _imports(path) if name in files and name != module}
    return graph


def test_layers_import_downwards_only() -> None:
    wrong: list[str] = []
    for path in _source_files():
        if "migrations/versions" in path.as_posix():
            continue
        package = _module_name(path).split(".")[0]
        banned = FORBIDDEN.get(package, frozenset())
        for name in _imports(path):
            if name.split(".")[0] in banned:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert sorted(set(wrong)) == []


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            # A package's __init__ importing its own submodules is how packages register them.
            if target.startswith(module + "."):
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert [" → ".join(cycle) for cycle in cycles] == []


@pytest.mark.parametrize("package", ["bot", "pulses", "storage"])
def test_every_source_file_is_one_concept_in_size(package: str) -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}


def test_the_readers_see_relative_nested_and_from_imports() -> None:
    """So that a pass of the rules above means the imports were really read."""
    source = (
        "import storage.db\n"
        "from . import ports\n"
        "from ..bot.views import digest\n"
        "def later() -> None:\n"
        "    from sandbox import SlackSandbox\n"
    )
    found = _imported_names(source, package="pulses")
    assert {"storage.db", "pulses.ports", "bot.views.digest", "sandbox"} <= found
    graph = _graph()
    assert "storage.db" in graph["storage.queries"] or "storage.models" in graph["storage.queries"]

"""The import layering of the code, read from the source (ast; every import, inside functions
too): no import cycle between modules; the stages are run by the command layer only
(``emocli/commands``, ``emocli/cli.py``), and no stage imports another stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("emocli", "stages")
#: Modules that may import ``stages.*``: the command layer.
STAGE_USERS = ("emocli.commands", "emocli.cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from X import a`` counts as X.a when that is a
    module, else as X)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def owner(dotted: str) -> str:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [owner(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else owner(base)
                for alias in node.names
            ]
        else:
            continue
        out.update(t for t in targets if t and t != name)
    return out


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_only_the_command_layer_runs_stages_and_no_stage_imports_another() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        for target in targets:
            if not target.startswith("stages.") or target == "stages":
                continue
            if module.startswith("stages."):
                wrong.append(f"{module} -> {target} (a stage importing another stage)")
            elif not module.startswith(STAGE_USERS):
                wrong.append(f"{module} -> {target} (only emocli/commands and cli.py run stages)")
    assert wrong == []


def test_the_checks_catch_what_they_look_for() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert "emocli.fusion.base" in GRAPH["emocli.fusion.store"]
    assert "stages.finetune" in GRAPH["emocli.commands.finetune"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_read(package: str) -> None:
    assert any(name.startswith(f"{package}.") for name in GRAPH)

"""The package's import direction, read from the source with ast: a lower layer never imports a
higher one, nobody imports another module's private names, heavy or engine-specific libraries
stay in their one module, and there is no cycle. The table is README's "Architecture"."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "advisor"
ROOT = "root"  # errors, yamlio, resources, defaults: the modules at the top of the package

#: package -> the packages it may import (itself always included).
ALLOWED = {
    ROOT: set(),
    "catalog": {ROOT},
    "perf": {ROOT, "catalog"},
    "plan": {ROOT, "catalog", "perf"},
    "scenario": {ROOT, "catalog"},
    "rules": {ROOT},
    "decide": {ROOT, "catalog", "perf", "plan", "scenario", "rules"},
    "audit": {ROOT, "catalog", "perf", "plan", "scenario", "rules", "decide"},
    "render": {ROOT, "catalog", "perf", "plan", "scenario", "rules", "decide", "audit"},
    "cli": {ROOT, "catalog", "perf", "plan", "scenario", "rules", "decide", "audit", "render"},
}
#: third-party libraries confined to some modules: import name -> the modules that may import it.
CONFINED = {
    "durable": {"advisor.rules.engine"},
    "matplotlib": {"advisor.render.charts"},
    "numpy": {"advisor.render.charts"},  # matplotlib's own dependency, for the decision map's grid
    "questionary": {"advisor.cli.prompts"},
    "prompt_toolkit": {"advisor.cli.prompts"},
    "pydantic": {"advisor.catalog", "advisor.scenario"},  # prefixes: the validated-input packages
}


def module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 2 and parts[1] == "__main__":
        return "cli"  # `python -m advisor` runs the CLI
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else ROOT


def imports_of(path: Path, module: str, is_package: bool):
    """(line, imported module, imported names) for every import, module-level or inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = tuple(a.name for a in node.names)
            if node.module is None:  # `from . import x`: each name is a module
                for name in names:
                    yield node.lineno, f"{target}.{name}", ()
            else:
                yield node.lineno, target, names


def check(top: Path) -> list[str]:
    """Every violation of the import rules in the package at ``top``, as ``file:line: message``."""
    modules = {module_name(p, top): p for p in top.rglob("*.py")}
    problems, graph = [], {m: set() for m in modules}
    for module, path in sorted(modules.items()):
        where = path.relative_to(top.parent)
        for line, target, names in imports_of(path, module, path.name == "__init__.py"):
            problems += _third_party(where, line, module, target)
            if not target.startswith("advisor"):
                continue
            target = target if target in modules else target.rpartition(".")[0] if target.rpartition(".")[0] in modules else target
            graph[module].add(target)
            mine, theirs = layer(module), layer(target) if target != "advisor" else ROOT
            if theirs != mine and theirs not in ALLOWED[mine]:
                problems.append(f"{where}:{line}: {mine} may not import {theirs} ({target})")
            for name in names:
                if name.startswith("_") and not name.startswith("__") and f"{target}.{name}" not in modules:
                    problems.append(f"{where}:{line}: imports the private name {name} of {target}")
    return problems + [f"import cycle: {' -> '.join(cycle)}" for cycle in _cycles(graph)]


def _third_party(where, line: int, module: str, target: str) -> list[str]:
    top_name = target.split(".")[0]
    allowed = CONFINED.get(top_name)
    if allowed is None or any(module == a or module.startswith(a + ".") for a in allowed):
        return []
    return [f"{where}:{line}: {top_name} may be imported only by {', '.join(sorted(allowed))}"]


def _cycles(graph: dict) -> list[list[str]]:
    """Cycles between modules, found by a depth-first search (each back edge is one cycle)."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_the_package_follows_the_import_rules():
    assert check(PACKAGE) == []


def test_the_check_fails_on_a_deliberate_wrong_import(tmp_path):
    copy = tmp_path / "advisor"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    models = copy / "catalog" / "models.py"
    models.write_text(models.read_text() + "\nfrom ..render.text import table  # a catalog reaching up into render\n")
    engine = copy / "decide" / "facts.py"
    engine.write_text(engine.read_text() + "\nfrom ..rules.engine import _QuietHost  # a private name\n")
    loader = copy / "rules" / "loader.py"
    loader.write_text(loader.read_text() + "\nimport durable  # the engine's library outside the engine\n")
    cycle = copy / "perf" / "checks.py"
    cycle.write_text(cycle.read_text() + "\nfrom . import pricing  # pricing imports checks: a cycle\n")
    problems = check(copy)
    assert any(p.startswith("advisor/catalog/models.py:") and "catalog may not import render" in p for p in problems)
    assert any(p.startswith("advisor/decide/facts.py:") and "private name _QuietHost" in p for p in problems)
    assert any(p.startswith("advisor/rules/loader.py:") and "durable may be imported only by advisor.rules.engine" in p
               for p in problems)
    assert any("import cycle" in p and "advisor.perf.checks" in p and "advisor.perf.pricing" in p for p in problems)
    assert len(problems) == 4, problems

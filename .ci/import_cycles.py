"""Fail when imports inside bot/ and handlers/ form a cycle, or run against the layers below.

Every import counts, also those under `if TYPE_CHECKING:` and inside functions: a cycle hidden from
the interpreter is still a cycle for the reader. Imports run one way, down this list (ARCHITECTURE.md, "Layers";
within a layer, anything that is not a cycle):

  domain values, settings and prices → bland, store → blocks → notifier → deps → flows → tracking → handlers → app

Run: python .ci/import_cycles.py [--packages]   (--packages prints the package graph)
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOTS = ("bot", "handlers")
LAYERS = [
    {
        "bot",
        "bot.domain",
        "bot.ids",
        "bot.clock",
        "bot.errors",
        "bot.settings",
        "bot.limits",
        "bot.mrkdwn",
        "bot.payloads",
        "bot.pricing",
        "bot.caps",
        "bot.safe_json",
        "bot.phones",
        "bot.hours",
        "bot.logs",
        "bot.metrics",
    },
    {"bot.bland", "bot.store"},
    {"bot.blocks"},
    {"bot.notifier", "bot.permissions"},
    {"bot.outbox"},
    {"bot.deps", "bot.error_replies", "bot.unit"},
    {"bot.flows"},
    {"bot.tracking"},
    {"handlers"},
    {"bot.app", "bot.inbound"},
    {"bot.runtime", "bot.check"},
    {"bot.sandbox", "bot.cli", "bot.__main__"},
]


def layer_of(node: str) -> int | None:
    """Return a package node's layer (every handlers module is in the handlers layer)."""
    name = "handlers" if node.split(".")[0] == "handlers" else node
    return next((rank for rank, layer in enumerate(LAYERS) if name in layer), None)


def module_name(path: Path) -> str:
    """Return the dotted name of a source file."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, current: str, is_package: bool, known: set[str]) -> set[str]:
    """Return the project modules a module imports (resolving relative and `from package import module`)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = current.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module; `from module import name`, the module.
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            names = [name for name in submodules if name in known]
            if len(names) < len(submodules):
                names.append(base)
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != current:
                found.add(name)
    return found


def package_of(module: str, packages: set[str]) -> str:
    """Return the subpackage holding a module (bot.store, bot.flows, ...).

    Modules directly in a root package (bot.app, bot.deps, handlers.calls) stand for themselves:
    the root packages are namespaces, not layers.
    """
    parts = module.split(".")
    if len(parts) >= 2 and ".".join(parts[:2]) in packages:
        return ".".join(parts[:2])
    return module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    files = [path for root in ROOTS for path in sorted(Path(root).rglob("*.py"))]
    known = {module_name(path) for path in files}
    packages = {module_name(path) for path in files if path.name == "__init__.py"}
    modules: dict[str, set[str]] = {}
    for path in files:
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules[name] = imported(tree, name, path.name == "__init__.py", known)
    by_package: dict[str, set[str]] = defaultdict(set)
    for source, targets in modules.items():
        for target in targets:
            a, b = package_of(source, packages), package_of(target, packages)
            # A package importing its own submodules (or a module its parent package) is not a cycle.
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                by_package[a].add(b)
    upward = []
    for source in sorted(by_package):
        for target in sorted(by_package[source]):
            low, high = layer_of(source), layer_of(target)
            if low is None or high is None:
                upward.append(f"not in a layer: {source if low is None else target} (add it to LAYERS)")
            elif high > low:
                upward.append(f"upward import: {source} -> {target}")
    for line in sorted(set(upward)):
        print(line)
    module_cycles = cycles(modules)
    package_cycles = cycles(by_package)
    for kind, found in (("module", module_cycles), ("package", package_cycles)):
        for component in found:
            print(f"{kind} cycle: {' <-> '.join(component)}")
    if "--packages" in sys.argv:
        for source in sorted(by_package):
            print(f"{source} -> {', '.join(sorted(by_package[source]))}")
    edges = sum(len(t) for t in modules.values())
    print(
        f"imports: {len(modules)} modules, {edges} edges, "
        f"{len(module_cycles)} module cycle(s), {len(package_cycles)} package cycle(s), "
        f"{len(set(upward))} upward import(s)"
    )
    return 1 if module_cycles or package_cycles or upward else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The import graph: cli -> reports -> checks -> converters -> zoo_registry -> (records, sources,
store, rundir, capture), each package importing only those below it (or beside it, at the
bottom), and no cycle between packages. Every import counts, the lazy ones inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import zoocheck

ROOT = Path(zoocheck.__file__).resolve().parent

#: package (or bottom module) -> its level; a module may import only levels <= its own
LAYERS = {
    "zoocheck": 0,  # the package root holds __version__ only
    "records": 0,
    "sources": 0,
    "store": 0,
    "rundir": 0,  # the per-run temporary directory, signals, output locks
    "capture": 0,  # framework output captured at the file-descriptor level
    "errors": 0,  # BadInput: input refused in zoocheck's own words
    "digests": 0,  # file and JSON digests
    "families": 0.5,  # a family's spec and name parsers, and the family registry: pure data
    "extensions": 0.5,  # the sources and families registered at run time, for child processes
    "zoo_registry": 1,
    "converters": 2,
    "families.code": 2,  # a family's canonical graph, random weights and weight layouts
    "identity": 2.5,  # which model an ONNX file holds (reads it through the converters' normaliser)
    "validate": 2.5,  # options and paths checked before any work (asks the converters' opset range)
    "checks": 3,
    "sweep": 3.5,  # whole-zoo runs of the checks, below the CLI that renders them
    "reports": 4,
    "cli": 5,
    "__main__": 6,
}


#: the modules of zoocheck/families/ that are data (level "families"); its others are code
#: beside the converters ("families.code")
FAMILY_DATA = ("registry", "spec", "names")


def _package_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "families":
        is_package = PATHS[module].name == "__init__.py" if module in PATHS else False
        return "families" if is_package or parts[-1] in FAMILY_DATA else "families.code"
    return parts[1] if len(parts) > 1 else "zoocheck"


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)


PATHS = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imports() -> dict[str, set[tuple[str, int]]]:
    """zoocheck module -> the zoocheck modules it imports, with the line (``from package import
    module`` imports that module)."""
    graph = {}
    for module, path in PATHS.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative import: resolve against this module's package
                    base = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                    name = ".".join(base + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                for alias in node.names:
                    targets.add((f"{name}.{alias.name}" if f"{name}.{alias.name}" in PATHS else name, node.lineno))
            elif isinstance(node, ast.Import):
                targets.update((alias.name, node.lineno) for alias in node.names)
        graph[module] = {(t, line) for t, line in targets if t == "zoocheck" or t.startswith("zoocheck.")}
    return graph


GRAPH = _imports()


def test_every_package_has_a_layer():
    unknown = sorted({_package_of(m) for m in GRAPH} - set(LAYERS))
    assert not unknown, f"give these packages a level in LAYERS (tests/test_layers.py): {unknown}"


def test_no_upward_import():
    upward = [
        f"{module} (line {line}) imports {target}"
        for module, targets in GRAPH.items()
        for target, line in targets
        if LAYERS.get(_package_of(target), 0) > LAYERS.get(_package_of(module), 0)
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges``, or None."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return trail + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [node])):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def test_no_cycle_between_packages():
    edges: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target, _ in targets:
            if _package_of(target) != _package_of(module):
                edges.setdefault(_package_of(module), set()).add(_package_of(target))
    cycle = _cycle(edges)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


def test_no_cycle_between_modules():
    """Nor between the modules of one package, lazy imports included: a module importing one that
    imports it back (at once or later) has its knowledge in the wrong place. A package's own
    ``__init__`` running before its modules is how Python imports, not a cycle."""
    edges = {module: {t for t, _ in targets if t != module and not module.startswith(t + ".")} for module, targets in GRAPH.items()}
    cycle = _cycle(edges)
    assert cycle is None, "import cycle between modules: " + " -> ".join(cycle)


def test_the_bottom_imports_nothing_of_zoocheck_but_itself():
    records = [m for m in GRAPH if m == "zoocheck.records" or m.startswith("zoocheck.records.")]
    assert len(records) > 1  # the package and its modules
    for module in (*records, "zoocheck.sources"):
        outside = {t for t, _ in GRAPH[module] if not t.startswith("zoocheck.records")}
        assert outside <= {"zoocheck.errors"}, f"{module} must stay at the bottom of the import graph"


def test_the_walk_sees_lazy_imports():
    """The walk itself works (a walk that saw nothing would pass the tests above): the CLI imports
    the library inside its functions."""
    assert any(_package_of(t) == "checks" for t, _ in GRAPH["zoocheck.cli.convert"])

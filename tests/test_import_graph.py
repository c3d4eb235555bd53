"""The import graph of the project (docs/architecture.md, "Layers"), read from the source with `ast`:
every project-internal import, at the top of a file or inside a function, is an edge. The layer rules
and the absence of cycles are checked on it, so a new import that breaks them fails here."""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = runpy.run_path(str(ROOT / "setup.py"), run_name="setup")["PACKAGE_DIRS"]


def _modules() -> dict[str, Path]:
    """Every module of the project: its import name -> its file."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            if any(not (base / Path(*rel.parts[:k]) / "__init__.py").exists() for k in range(1, len(rel.parts))):
                continue  # inside a folder that is data, not a package
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules that module `name` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            # `from package import module` imports the module; `from module import name`, the module.
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


#: The host modules that may import the hardware layers (rtl, sim, boards, bench), and why:
#: the `verilator` device needs the compiled harness; `lifstp build/flash/bench` need the boards and
#: the benchmarks.
HOST_HARDWARE_USERS = {"lifstp.device": "the verilator device (lifstp.sim.harness)",
                       "lifstp.cli": "lifstp build, flash and bench"}
HARDWARE = ("lifstp.rtl", "lifstp.sim", "lifstp.boards", "lifstp.bench")
#: Command-line modules: nothing imports them but the entry point.
COMMAND_LINES = {"lifstp.cli": set(), "lifstp.science.commands": {"lifstp.cli"}}


def test_the_graph_is_read():
    """The reader finds known edges of every kind: relative, absolute, `from package import module`."""
    assert "lifstp.golden_model.spec" in GRAPH["lifstp.protocol"]
    assert "lifstp.protocol" in GRAPH["lifstp.link"]  # from . import protocol as P
    assert "lifstp.golden_model.spec" in GRAPH["lifstp.link"]  # from lifstp.golden_model.spec import ...
    assert "lifstp.rtl.engine.engine" in GRAPH["lifstp.rtl.engine"]  # from .engine import Engine
    assert "lifstp.protocol" in GRAPH["lifstp.rtl.engine.commands"]


def test_the_model_depends_on_nothing():
    assert GRAPH["lifstp.golden_model.spec"] == set()


def test_the_protocol_depends_on_the_model_only():
    assert GRAPH["lifstp.protocol"] <= {"lifstp.golden_model.spec"}


def test_the_protocol_needs_no_jit():
    """The protocol's CRC is computed without numba (binascii), so host and tools need no JIT for it."""
    tree = ast.parse(MODULES["lifstp.protocol"].read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "numba" not in imported


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, "lifstp.golden_model")))
def test_golden_model_depends_on_the_model_only(module):
    assert all(_in(t, "lifstp.golden_model") for t in GRAPH[module]), GRAPH[module]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, "lifstp.rtl")))
def test_rtl_depends_on_the_model_the_protocol_and_itself(module):
    allowed = ("lifstp.golden_model.spec", "lifstp.protocol", "lifstp.rtl")
    assert all(_in(t, *allowed) for t in GRAPH[module]), GRAPH[module]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _in(m, *HARDWARE, "lifstp.golden_model")))
def test_host_reaches_the_hardware_only_where_it_must(module):
    hardware = {t for t in GRAPH[module] if _in(t, *HARDWARE)}
    if module in HOST_HARDWARE_USERS:
        assert hardware, f"{module} no longer needs the hardware layers: drop it from HOST_HARDWARE_USERS"
    else:
        assert not hardware, f"{module} imports {hardware}"


def test_nothing_imports_a_command_line():
    for cli, importers in COMMAND_LINES.items():
        assert cli in MODULES
        assert {m for m, targets in GRAPH.items() if cli in targets} == importers


def test_no_cycles():
    """Depth-first search over every edge; a cycle is reported as the path that closes it."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)

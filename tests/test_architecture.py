"""The architecture of the house, checked: imports run one way, no cycles, small modules.

The layers of ``fem/__init__.py``, bottom to top; a module may import its own layer and those
below it, never those above. Every import counts, also those inside functions.
"""

import ast
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.serial

#: Package (or module) prefix -> layer, bottom (0) to top.
LAYERS = {
    "meshes": 0,
    "fem.parallel": 1,
    "fem.solvers": 1,
    "fem.config": 2,
    "fem.physics": 3,
    "fem.output": 4,
    "fem.post": 5,
    "fem.render": 6,
    "fem.report": 6,
    "fem.run": 7,
    "fem.cli": 8,
    "fem.api": 8,
    "fem.bench": 8,
    "fem.__main__": 8,
    "fem": 0,  # the package itself: mpi4py and the version only
}
MAX_LINES = 600


def modules() -> dict[str, Path]:
    """Every module of ``fem`` and ``meshes``, by dotted name."""
    out = {}
    for top in ("fem", "meshes"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def layer(module: str) -> int:
    """The layer of a module: that of its longest matching prefix."""
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def imports(path: Path, name: str) -> set[str]:
    """The ``fem`` and ``meshes`` modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {t for t in targets if t.split(".")[0] in ("fem", "meshes")}
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {t for t in imports(path, name) if t in mods and t != name}
            for name, path in mods.items()}


#: The imports against the layers: the lazy facades of the Python interface (``fem.load_case``
#: etc. in ``fem.__getattr__``, ``fem.run(...)`` in the package's ``__call__``), imported on
#: first use, never at import time.
FACADE = {("fem", "fem.api"), ("fem", "fem.run"), ("fem.run", "fem.api")}


def test_imports_run_one_way():
    wrong = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
             for a, targets in graph().items() for b in sorted(targets)
             if layer(b) > layer(a) and (a, b) not in FACADE]
    assert not wrong, "\n".join(wrong)


def test_meshes_import_nothing_from_fem():
    g = graph()
    wrong = [f"{a} imports {b}" for a in g if a.startswith("meshes") for b in g[a]
             if b.startswith("fem")]
    assert not wrong, wrong


def test_no_import_cycles():
    g = {a: {b for b in targets if (a, b) not in FACADE} for a, targets in graph().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    # a package's __init__ re-exporting its modules is not a cycle of the code
    cycles = [c for c in cycles if not any(
        a.count(".") < b.count(".") and b.startswith(a + ".")
        for a, b in zip(c.split(" -> "), c.split(" -> ")[1:]))]
    assert not cycles, cycles


def test_no_source_file_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_no_module_named_like_the_standard_library():
    clash = [name for name in modules() if name.rpartition(".")[2] in sys.stdlib_module_names]
    assert not clash, clash


def test_dolfinx_fem_has_one_alias():
    """``fem`` is this package: DOLFINx's fem module is always ``import dolfinx.fem as dfem``."""
    wrong = []
    for path in [*modules().values(), *sorted((ROOT / "tests").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "dolfinx" and any(
                    a.name == "fem" for a in node.names):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(
                    a.name == "dolfinx.fem" and a.asname not in (None, "dfem") for a in node.names):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not wrong, wrong


def test_result_file_names_live_in_one_module():
    """No module but :mod:`fem.output.names` spells a result file name."""
    from fem.output import names

    spelled = {v for k, v in vars(names).items()
               if k.isupper() and isinstance(v, str) and "." in v}  # files, not folders
    wrong = []
    for name, path in modules().items():
        if name == "fem.output.names":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in spelled:
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not wrong, "\n".join(wrong)

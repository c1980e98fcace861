"""The three wings: ``nn`` (NumPy only) <- ``estimator`` <- ``app``, under ``scratchnet``.

Each wing imports only the wings below it, no module imports in a cycle, no module is long,
and importing the core or the package loads none of the application's libraries.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "scratchnet"
WINGS = {"nn": 0, "estimator": 1, "app": 2}
HEAVY = ("sklearn", "matplotlib", "tqdm", "PIL", "fastapi", "onnx", "onnxruntime", "dask",
         "scipy", "safetensors")


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(name, path):
    """Top-level and function-level ``scratchnet`` imports of a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return {m for m in found if m == "scratchnet" or m.startswith("scratchnet.")}


def _wing(module):
    parts = module.split(".")
    return WINGS.get(parts[1]) if len(parts) > 1 else None


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda v: str(v))
def test_each_wing_imports_only_the_wings_below_it(name, path):
    own = _wing(name)
    if own is None:
        return
    for target in _imports(name, path):
        other = _wing(target)
        assert other is None or other <= own, f"{name} imports {target}"


def test_no_import_cycle():
    modules = dict(_modules())
    graph = {name: {t for t in _imports(name, path) if t in modules and t != name}
             for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how packages work, not a cycle.
    graph = {n: {t for t in ts if not n.startswith(t + ".") and not t.startswith(n + ".")}
             for n, ts in graph.items()}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("name, path", list(_modules()), ids=lambda v: str(v))
def test_no_module_is_long(name, path):
    lines = len(path.read_text().splitlines())
    assert lines <= 320, f"{name} has {lines} lines; split it by concept (STYLE.md)"


@pytest.mark.parametrize("statement", ["import scratchnet.nn", "import scratchnet",
                                       "import scratchnet.nn.training, scratchnet.nn.saliency"])
def test_the_core_loads_no_application_library(statement):
    code = (f"{statement}; import sys; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"`{statement}` loaded {out}"


def test_the_lazy_top_level_names_still_work():
    code = ("import scratchnet; from scratchnet import NNClassifier, load_fashion_mnist; "
            "print(NNClassifier.__module__, load_fashion_mnist.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["scratchnet.estimator.classifier", "scratchnet.app.datasets"]

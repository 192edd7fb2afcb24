"""The house: the package mirrors the pattern, no module imports one that imports it back, and a
long module says why it is one piece."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "nas_pattern"
LONG = 300  # lines; a longer module says why in its docstring ("One piece" / "One module")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports, anywhere in it but under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for guard in ast.walk(tree) if isinstance(guard, ast.If)
               and "TYPE_CHECKING" in ast.unparse(guard.test) for node in ast.walk(guard)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:  # a submodule imported by name, or a name from the module itself
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return {name for name in found if name in known}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(modules()))
def test_a_long_module_says_why_it_is_one_piece(name: str) -> None:
    path = modules()[name]
    lines = len(path.read_text().splitlines())
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert docstring, f"{name} opens with no docstring saying its role"
    if lines > LONG:
        assert "One piece" in docstring or "One module" in docstring, \
            f"{name} has {lines} lines; split it or say in its docstring why it is one piece"
    for claimed in re.findall(r"(?:~|about )?(\d[\d,]*) lines", docstring):  # a size it claims must be true
        said = int(claimed.replace(",", ""))
        assert abs(said - lines) <= 0.2 * lines, f"{name} says it has {said} lines; it has {lines}"


def test_each_role_of_the_pattern_has_its_own_home() -> None:
    homes = {"controller": "NASController", "agents.reinforce": "RLAgent", "agents.base": "Agent",
             "agents.policy_network": "PolicyNetwork", "networks.base": "Network", "networks.cnn": "CNN",
             "networks.rnn": "RNN", "executor": "Executor", "worker": "Worker", "replay": "Replay",
             "records": "Episode", "config": "RunConfig", "session": "Search", "table": "Table"}
    for module, cls in homes.items():
        tree = ast.parse(modules()[f"nas_pattern.{module}"].read_text())
        assert cls in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}, f"{cls} is not in {module}.py"


def test_make_clean_leaves_the_searches_and_their_models() -> None:
    """runs/ holds every search's record and the model it found (the product): hours of work that
    no rebuild gives back. `make clean` removes what the Makefile builds or fetches, never that."""
    done = subprocess.run(["make", "--dry-run", "--no-print-directory", "clean"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    removed = done.stdout.split()
    assert removed[:2] == ["rm", "-rf"] and "build" in removed and ".venv" in removed
    assert not {"runs", "runs/", "."} & set(removed)


def test_the_oldest_versions_checked_are_pyproject_s_lower_bounds() -> None:
    """tests/minimum-versions.txt is what the README's check of the oldest versions installs: each
    pin is the lower bound pyproject.toml gives that package, and every package given one there
    (the tools of [dev] and the build aside) is pinned, so a raised bound moves the check with it."""
    from packaging.version import Version

    text = (ROOT / "pyproject.toml").read_text()
    given = {(name.lower(), Version(version)) for name, version in
             re.findall(r'"([A-Za-z0-9_-]+)(?:\[[a-z,]+\])?>=([0-9.]+)', text)}
    bounds = dict(given)
    assert len(bounds) == len(given), "a package has two lower bounds (in two extras, say)"
    lines = (ROOT / "tests" / "minimum-versions.txt").read_text().splitlines()
    pins = {name.lower(): Version(version) for name, version in
            (line.split("==") for line in lines if line.strip() and not line.startswith("#"))}
    tools = {"setuptools", "pytest", "pytest-xdist", "hypothesis", "ruff", "mypy", "mkdocs", "pymdown-extensions",
             "selenium"}
    assert set(pins) == set(bounds) - tools
    assert {name: bounds[name] for name in pins} == pins

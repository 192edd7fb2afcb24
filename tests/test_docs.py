"""docs/: every snippet comes from code CI runs, the diagrams name what the code has, the runnable
commands run, the links resolve, and the built site renders its diagrams in headless Chromium."""

from __future__ import annotations

import ast
import contextlib
import functools
import http.server
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markdown.extensions.toc import slugify

import nas_pattern
from helpers import chromium
from nas_pattern import replay
from nas_pattern.agents import policy_network
from nas_pattern.networks import tabular

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
VENV_BIN = Path(sys.executable).parent
# The files snippets may come from: the engine, and the examples CI runs (docs/examples by this
# suite, the JVM examples by `make test`), and the study's committed output.
RUN_BY_CI = ("python/nas_pattern/", "docs/examples/", "jvm/examples/NASExample.java", "jvm/scala/NASExample.scala",
             "clojure/src/naspattern/example.clj", "benchmarks/strategies.csv",
             "benchmarks/regret.csv")
# Either at the start of a line or indented (inside a tab of the four languages).
SNIPPET = re.compile(r'^[ \t]*--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$', re.MULTILINE)
FENCE = re.compile(r"^[ \t]*```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)^[ \t]*```$", re.MULTILINE | re.DOTALL)


def test_the_guide_has_its_nine_chapters_in_the_index() -> None:
    index = (DOCS / "index.md").read_text()
    chapters = [p.name for p in PAGES if p.name != "index.md"]
    assert len(chapters) == 9
    assert re.findall(r"\]\((0\d-[\w-]+\.md)\)", index) == chapters  # listed in reading order


def snippets() -> Iterator[tuple[str, str, str | None]]:
    for page in PAGES:
        for match in SNIPPET.finditer(page.read_text()):
            yield page.name, match["path"], match["section"]


@pytest.mark.parametrize(("page", "path", "section"), list(snippets()))
def test_every_snippet_is_a_marked_region_of_a_file_ci_runs(page: str, path: str, section: str | None) -> None:
    assert path.startswith(RUN_BY_CI), f"{page} includes {path}, which CI does not run"
    source = (ROOT / path).read_text()
    if section is None:
        assert source.strip()
        return
    starts = source.count(f"--8<-- [start:{section}]")
    ends = source.count(f"--8<-- [end:{section}]")
    assert (starts, ends) == (1, 1), f"{path} must mark [start:{section}] and [end:{section}] once each"
    region = source.split(f"--8<-- [start:{section}]")[1].split(f"--8<-- [end:{section}]")[0]
    assert len([line for line in region.splitlines()[1:] if line.strip()]) >= 3, f"{path}:{section} is empty"
    assert whole(path, region.split("\n", 1)[1].rsplit("\n", 1)[0]), \
        f"{page} shows {path}:{section}, which is not whole (it starts or ends inside a definition)"


def whole(path: str, region: str) -> bool:
    """Whether an included region is complete definitions: Python that parses on its own (at its
    own indentation), or Java, Scala and Clojure whose brackets balance and never close early."""
    if path.endswith(".py"):
        try:
            ast.parse(textwrap.dedent(region))
        except SyntaxError:
            return False
        return True
    pairs = {")": "(", "]": "[", "}": "{"}
    depth: list[str] = []
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', region)  # brackets inside strings do not count
    code = re.sub(r"//[^\n]*|;[^\n]*", "", code) if not path.endswith(".java") else re.sub(r"//[^\n]*", "", code)
    for char in code:
        if char in "([{":
            depth.append(char)
        elif char in pairs and (not depth or depth.pop() != pairs[char]):
            return False
    return not depth


def test_the_wholeness_check_catches_a_region_cut_short() -> None:
    assert whole("a.py", "    def f(self):\n        return 1\n")
    assert not whole("a.py", "    def f(self):\n        return 1\n\n    @property\n")
    assert whole("A.java", "void f() {\n    g(\"}\");\n}\n")
    assert not whole("A.scala", "  def f(): Unit = {\n    try {\n    } finally g()\n")
    assert not whole("a.clj", "(defn f [x]\n  (inc x)")


# Names the guide quotes from other codebases, not ours: the 2017 reference code's, AutoKeras's.
QUOTED_FROM_ELSEWHERE = {"get_action", "get_reward", "net_manager.py", "self.mnist.test.next_batch(10000)",
                         "export_model()"}
# What the prose puts in backticks and is checked: a call, a CamelCase or snake_case name, a dotted
# path to one; or a file name.
CODE_NAME = re.compile(r"(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?P<call>\([^)]*\))?")
FILE_NAME = re.compile(r"[\w/.-]+\.(?:py|java|scala|clj|json|jsonl|csv|txt|sh|png|pt|onnx)")


@functools.cache
def code_text() -> str:
    """Every source file of the project, and its tests but this one, as one text."""
    sources = [*ROOT.glob("python/**/*.py"), *ROOT.glob("jvm/**/*.java"), *ROOT.glob("jvm/**/*.scala"),
               *ROOT.glob("clojure/**/*.clj"), *ROOT.glob("docs/examples/*"), *ROOT.glob("tests/*.py"),
               ROOT / "Makefile"]
    return "\n".join(path.read_text() for path in sources if path.is_file() and path.name != "test_docs.py")


@functools.cache
def repository_files() -> tuple[str, ...]:
    """The paths of the files git tracks, from the repository's root."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return tuple("/" + line for line in listed.splitlines())


def backticked(page: Path) -> Iterator[str]:
    """The code names in a page's prose (fenced blocks left out)."""
    prose = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    for token in re.findall(r"`([^`\n]+)`", prose):
        if token in QUOTED_FROM_ELSEWHERE:
            continue
        match = CODE_NAME.fullmatch(token)
        if FILE_NAME.fullmatch(token) or (match and (match["call"] or "_" in token
                                                     or any(c.isupper() for c in match["name"]))):
            yield token


def names_missing_from_the_code(page: Path) -> list[str]:
    words, text = set(re.findall(r"[A-Za-z_][\w]*", code_text())), code_text()
    missing = []
    for token in backticked(page):
        if FILE_NAME.fullmatch(token):
            if not ((ROOT / token).exists() or any(f.endswith("/" + token) for f in repository_files())
                    or token in text):
                missing.append(token)
        elif not all(part in words for part in CODE_NAME.fullmatch(token)["name"].split(".")):  # type: ignore[index]
            missing.append(token)
    return missing


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_every_name_the_prose_puts_in_backticks_exists_in_the_code(page: Path) -> None:
    missing = names_missing_from_the_code(page)
    assert not missing, f"{page.name} names what the code does not have: {missing}"


def test_the_names_check_catches_a_name_that_went_stale(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("The `NASController` calls `policy()` and `rewardAll()`; see `agents/nope.py` and "
                    "`run_dir.py`.\n```python\nnot_checked_inside_a_fence()\n```\n")
    assert names_missing_from_the_code(page) == ["rewardAll()", "agents/nope.py"]


def test_no_code_is_typed_into_the_guide_by_hand() -> None:
    for page in PAGES:
        for block in FENCE.finditer(page.read_text()):
            if block["lang"] in ("python", "java", "scala", "clojure"):
                lines = [line for line in block["body"].splitlines() if line.strip()]
                assert lines and all(SNIPPET.match(line) for line in lines), \
                    f"{page.name}: a {block['lang']} block that is not included from a source file"


@pytest.mark.slow
@pytest.mark.parametrize("example", ["search.py", "custom_network.py", "sharing.py"])
def test_the_python_examples_run(example: str, tmp_path: Path) -> None:
    folder = tmp_path / "model"  # where search.py saves the model it found, as the JVM examples' run directory
    saves = [str(folder)] if example == "search.py" else []
    done = subprocess.run([sys.executable, str(DOCS / "examples" / example), "2", *saves], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "val 0." in done.stdout
    if example == "search.py":  # it ends as the JVM examples do: five test images classified by the model found
        assert f"Model {folder}/best.pt\n" in done.stdout and (folder / "best.onnx").is_file()
        assert re.search(r"  test image 4: [\w -]+ \(p = [01]\.\d\d\), label Shirt\n$", done.stdout), done.stdout


# ---- the diagrams against the code ----

def mermaid_blocks(page: Path, kind: str) -> list[str]:
    return [b["body"] for b in FENCE.finditer(page.read_text()) if b["lang"] == "mermaid" and
            b["body"].lstrip().startswith(kind)]


def parse_class_diagram(body: str) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Class name -> member names (without arguments or types); and (base, child) inheritance pairs."""
    classes: dict[str, list[str]] = {}
    current = None
    for line in body.splitlines():
        line = line.strip()
        if match := re.match(r"class (\w+)\s*(\{)?$", line):
            current = match[1] if match[2] else None
            classes.setdefault(match[1], [])
        elif line == "}":
            current = None
        elif current and line.startswith("+"):
            classes[current].append(re.match(r"\+(\w+)", line)[1])  # type: ignore[index]
    inherits = re.findall(r"^\s*(\w+) <\|-- (\w+)", body, re.MULTILINE)
    return classes, inherits


def python_diagram() -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    (body,) = [b for b in mermaid_blocks(DOCS / "02-structure.md", "classDiagram") if "%% python" in b]
    return parse_class_diagram(body)


def python_class(name: str) -> type:
    for module in (nas_pattern, policy_network, tabular, replay):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"the diagram names {name}, which nas_pattern does not have")


def has_member(cls: type, name: str) -> bool:
    if hasattr(cls, name):
        return True  # a method, property or class attribute
    sources = "".join(inspect.getsource(c) for c in cls.__mro__ if c.__module__.startswith("nas_pattern"))
    return re.search(rf"self\.{name}\b[^=\n]*=|^\s+{name}: ", sources, re.MULTILINE) is not None  # instance field


def public_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if not name.startswith("_") and
            (inspect.isfunction(value) or isinstance(value, property | classmethod | staticmethod))}


def test_the_python_class_diagram_names_what_the_code_has() -> None:
    classes, inherits = python_diagram()
    for name, members in classes.items():
        cls = python_class(name)
        for member in members:
            assert has_member(cls, member), f"the diagram gives {name} a member {member} it does not have"
    for base, child in inherits:
        assert issubclass(python_class(child), python_class(base)), f"{child} does not derive from {base}"


def test_the_pattern_at_a_glance_names_what_the_code_has() -> None:
    (body,) = [b for b in mermaid_blocks(DOCS / "02-structure.md", "classDiagram") if "%% the pattern" in b]
    classes, inherits = parse_class_diagram(body)
    assert len(classes) == 5
    for name, members in classes.items():
        for member in members:
            assert has_member(python_class(name), member), f"the glance gives {name} a member {member} it lacks"
    for base, child in inherits:
        assert issubclass(python_class(child), python_class(base)), f"{child} does not derive from {base}"


def test_every_public_method_of_the_participants_is_in_the_diagram() -> None:
    classes, inherits = python_diagram()

    def drawn(name: str) -> set[str]:  # the members drawn on the class and on its drawn ancestors
        bases = [base for base, child in inherits if child == name]
        return set(classes[name]).union(*(drawn(base) for base in bases))

    for name in classes:
        missing = public_methods(python_class(name)) - drawn(name)
        assert not missing, f"{name} has public methods the diagram does not show: {sorted(missing)}"


def test_the_jvm_class_diagram_names_what_the_java_interfaces_have() -> None:
    (body,) = [b for b in mermaid_blocks(DOCS / "02-structure.md", "classDiagram") if "%% jvm" in b]
    classes, _ = parse_class_diagram(body)
    for name, members in classes.items():
        source = (ROOT / "jvm" / "src" / "naspattern" / f"{name}.java").read_text()
        declared = set(re.findall(r"^\s+(?:public\s+)?(?:static\s+)?(?:default\s+)?(?:synchronized\s+)?"
                                  r"[\w\[\]<>]+\s+(\w+)\(", source, re.MULTILINE))
        if record := re.search(rf"public record {name}\((?P<components>[^)]*)\)", source):  # accessors
            components = re.sub(r"<[^()]*?>(?=\s)", "", record["components"])  # Map<Integer, Metrics> m -> Map m
            declared |= {component.split()[-1] for component in components.split(",")}
        for member in members:
            assert member in declared, f"the diagram gives {name} a method {member} that {name}.java lacks"
        if re.search(rf"public interface {name}\b", source):
            assert declared <= set(members), f"{name}.java declares {sorted(declared - set(members))}, not drawn"


def test_the_sequence_diagram_calls_methods_that_exist() -> None:
    (body,) = mermaid_blocks(DOCS / "02-structure.md", "sequenceDiagram")
    calls = re.findall(r"->>\s*\w+:\s*(\w+)\(", body)
    assert {"policy", "build", "train", "evaluate", "reward", "update_policy"} <= set(calls)
    for call in calls:
        assert any(hasattr(python_class(c), call) for c in ("NASController", "RLAgent", "Executor", "Network")), call


def test_the_weight_sharing_sequence_diagram_calls_methods_that_exist() -> None:
    (body,) = mermaid_blocks(DOCS / "09-shared-weights.md", "sequenceDiagram")
    participants = dict(re.findall(r"participant (\w+) as (\w+)", body))
    calls = re.findall(r"(\w+)->>\s*(\w+):\s*(\w+)\(", body)
    assert {"train_shared", "draw", "train", "policy", "score", "reward", "update_policy", "derive",
            "train_alone"} <= {call for *_, call in calls}
    for _, callee, call in calls:
        assert hasattr(python_class(participants[callee]), call), f"{participants[callee]} has no {call}()"


# ---- links and runnable commands ----

def test_links_between_docs_files_resolve() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"https?://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path) if path else page
            if path.startswith("img/"):
                continue  # published by docs/hooks.py from benchmarks/
            assert file.is_file(), f"{page.name} links to {target}, which does not exist"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", file.read_text(), re.MULTILINE)
                assert anchor in {slugify(h, "-") for h in headings}, f"{page.name}: no heading #{anchor} in {path}"


def runnable_blocks() -> list[tuple[str, str]]:
    found = []
    for page in [*PAGES, ROOT / "README.md"]:  # the guide's pages in order, then the README's
        for match in re.finditer(r"<!-- runnable -->\n```bash\n(.*?)^```$", page.read_text(), re.MULTILINE | re.DOTALL):
            found.append((page.name, match[1]))
    return found


def test_the_guide_marks_commands_as_runnable() -> None:
    assert len(runnable_blocks()) >= 6


RUN_DIR = re.compile(r"/tmp/nas-[\w-]+/[\w-]+")  # a runnable block's own directory, e.g. /tmp/nas-docs/first


def runnable_chains() -> list[tuple[str, list[tuple[str, str]]]]:
    """The runnable blocks in chains that can run apart: blocks that name the same directory under
    /tmp/nas-docs or /tmp/nas-readme are one chain, run in page order (a later one reads what an
    earlier one wrote); a block that names none is a chain of its own. Named by page and directory."""
    chains: list[tuple[set[str], list[tuple[str, str]]]] = []
    for page, script in runnable_blocks():
        dirs = set(RUN_DIR.findall(script))
        joined = [chain for chain in chains if chain[0] & dirs]
        for chain in joined[1:]:  # a block naming two chains' directories joins them
            joined[0][0].update(chain[0])
            joined[0][1].extend(chain[1])
            chains.remove(chain)
        if joined:
            joined[0][0].update(dirs)
            joined[0][1].append((page, script))
        else:
            chains.append((dirs, [(page, script)]))
    named = []
    for dirs, blocks in chains:
        first = min(dirs) if dirs else re.sub(r"\W+", "-", blocks[0][1].split("\n")[0])[:40]
        named.append((f"{blocks[0][0]}:{first}", blocks))
    return named


def test_the_runnable_chains_keep_every_block_in_page_order() -> None:
    chains, every = runnable_chains(), runnable_blocks()
    chained = [block for _, blocks in chains for block in blocks]
    assert sorted(chained) == sorted(every)
    order = {block: i for i, block in enumerate(every)}
    for _, blocks in chains:
        assert [order[b] for b in blocks] == sorted(order[b] for b in blocks)
    first = next(blocks for name, blocks in chains if name.endswith("/tmp/nas-docs/first"))
    assert len(first) == 2 and "ls /tmp/nas-docs/first" in first[1][1]  # the search, then what it wrote


@pytest.mark.slow
@pytest.mark.parametrize("blocks", [pytest.param(blocks, id=name) for name, blocks in runnable_chains()])
def test_every_runnable_command_in_the_guide_runs(blocks: list[tuple[str, str]]) -> None:
    """Each chain apart (so that the test processes share them out), its blocks in page order."""
    for directory in set(RUN_DIR.findall("\n".join(script for _, script in blocks))):
        shutil.rmtree(directory, ignore_errors=True)  # what an earlier run of this chain left
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    for page, script in blocks:
        done = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{page}:\n{script}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


# ---- the built site, in a browser ----

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (DOCS / "js" / "mermaid.min.js").is_file():
        pytest.fail("docs/js/mermaid.min.js is missing: `make docs` fetches Mermaid from the npm registry")
    if not (DOCS / "katex" / "katex.min.js").is_file():
        pytest.fail("docs/katex/ is missing: `make docs` fetches KaTeX from the npm registry")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([str(VENV_BIN / "mkdocs"), "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


# What Mermaid writes in a rendered diagram's svg aria-roledescription, by the kind its source
# starts with; its error box says "error".
RENDERED_AS = {"classDiagram": "classDiagram", "sequenceDiagram": "sequence"}


def expected_kinds(page: str) -> list[str]:
    """The diagrams a built page should show, in order, from its Markdown source."""
    source = DOCS / page.replace(".html", ".md")
    if not source.is_file():
        return []
    kinds = [block.split(None, 1)[0] for block in re.findall(r"^```mermaid\n(.*?)^```$", source.read_text(),
                                                              re.MULTILINE | re.DOTALL)]
    assert all(kind in RENDERED_AS for kind in kinds), f"{page}: a diagram kind this test does not know: {kinds}"
    return [RENDERED_AS[kind] for kind in kinds]


@contextlib.contextmanager
def browsing(site: Path) -> Iterator[tuple[Any, int]]:
    """Headless Chromium, and a port on which `site` is served."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium() as browser:
            yield browser, server.server_port
    finally:
        server.shutdown()


def rendering_problems(browser: Any, url: str, expected: list[str]) -> list[str]:
    """What is wrong with the diagrams of the page at `url`: any not rendered, any rendered as
    Mermaid's error box or as another kind than its source says, any console error."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    diagrams = len(browser.find_elements(By.CSS_SELECTOR, "div.mermaid"))
    deadline = time.monotonic() + 30
    while len(browser.find_elements(By.CSS_SELECTOR, "div.mermaid svg")) < diagrams:
        if time.monotonic() > deadline:
            return [f"Mermaid did not render its {diagrams} diagram(s)"]
        time.sleep(0.2)
    rendered = [svg.get_attribute("aria-roledescription")
                for svg in browser.find_elements(By.CSS_SELECTOR, "div.mermaid svg[aria-roledescription]")]
    problems = [f"diagram {i + 1} is Mermaid's error box" for i, kind in enumerate(rendered) if kind == "error"]
    if rendered != expected:
        problems.append(f"diagrams rendered as {rendered}, the source has {expected}")
    formulas = browser.find_elements(By.CSS_SELECTOR, ".arithmatex")
    untypeset = [f.text[:40] for f in formulas if not f.find_elements(By.CSS_SELECTOR, ".katex")]
    problems += [f"formula not typeset: {text}" for text in untypeset]
    problems += [f"KaTeX error: {e.text[:60]}" for e in browser.find_elements(By.CSS_SELECTOR, ".katex-error")]
    problems += [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    return problems


@pytest.mark.slow
def test_the_site_renders_its_diagrams_without_console_errors(site: Path) -> None:
    from selenium.webdriver.common.by import By

    html = sorted(p.name for p in site.glob("*.html") if p.name != "404.html")
    assert len(html) == 10  # the index and the nine chapters
    with browsing(site) as (browser, port):
        for page in html:
            problems = rendering_problems(browser, f"http://127.0.0.1:{port}/{page}", expected_kinds(page))
            assert not problems, f"{page}: {problems}"
            if page == "04-reinforce.html":  # the formulas, typeset offline by the bundled KaTeX
                assert len(browser.find_elements(By.CSS_SELECTOR, ".arithmatex .katex")) >= 10
            if page == "02-structure.html":
                assert len(expected_kinds(page)) == 4
                shots = ROOT / "build" / "docs-screenshots"
                shots.mkdir(parents=True, exist_ok=True)
                assert browser.save_screenshot(str(shots / "structure.png"))


@pytest.mark.slow
def test_the_browser_check_catches_a_broken_diagram(tmp_path: Path) -> None:
    """A diagram Mermaid cannot parse renders as an error box, an svg too: the check must say so."""
    shutil.copy(DOCS / "js" / "mermaid.min.js", tmp_path / "mermaid.min.js")
    (tmp_path / "broken.html").write_text(
        '<html><head><link rel="icon" href="data:,"></head><body>'
        '<div class="mermaid">sequenceDiagram\n    A->>B: one; two\n</div>'
        '<script src="mermaid.min.js"></script><script>mermaid.initialize({startOnLoad: true});</script>'
        "</body></html>")
    with browsing(tmp_path) as (browser, port):
        problems = rendering_problems(browser, f"http://127.0.0.1:{port}/broken.html", ["sequence"])
    assert any("error box" in problem for problem in problems), problems


def test_the_traced_update_matches_the_code() -> None:
    """Chapter 4's worked numbers, from the committed record of the default search: the baseline
    and advantage recurrences, and the loss, replayed through a new RLAgent."""
    from nas_pattern import AgentConfig, Metrics, RLAgent
    from nas_pattern.config import RunConfig
    from nas_pattern.networks import CNN_SPACE

    record = ROOT / "benchmarks" / "default-run"
    assert "<!-- update-trace: benchmarks/default-run/episodes.jsonl -->" in (DOCS / "04-reinforce.md").read_text()
    stored = json.loads((record / "config.json").read_text())
    config = RunConfig.from_json(stored["config"])
    agent_config: AgentConfig = config.agent_config
    episodes = [json.loads(line) for line in (record / "episodes.jsonl").read_text().splitlines()]
    first = episodes[:agent_config.children_per_update]
    decay = agent_config.reinforce.baseline_decay
    scores = [e["metrics"]["accuracy"] for e in first]
    baseline = scores[0]  # b_1 = R_1
    for k, e in enumerate(first):
        assert e["reward"] == pytest.approx(scores[k] - baseline, abs=1e-12)  # A_k = R_k - b_k
        if k:
            assert e["baseline"] == pytest.approx(baseline, abs=1e-12)
        baseline = decay * baseline + (1 - decay) * scores[k]  # b_{k+1}
    update = first[-1]["update"]
    assert update["mean_score"] == pytest.approx(sum(scores) / len(scores), abs=1e-6)
    agent = RLAgent(CNN_SPACE, agent_config)  # the search's agent, as it started
    for e in first:
        sample = agent.policy()
        assert sample.architecture.to_json() == e["architecture"]  # the same samples, from the same seed
        agent.reward(sample, Metrics(**e["metrics"]))
    replayed = agent.update_policy()
    assert replayed["loss"] == pytest.approx(update["loss"], rel=1e-5)
    assert replayed["entropy"] == pytest.approx(update["entropy"], rel=1e-5)

"""The Python end of the py4j bridge: the engine process and its token (its configs: test_session.py).

The JVM suites (JUnit, Scala, clojure.test; `make jvm-test`) drive the adapters through a live bridge.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import weakref
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from py4j.clientserver import ClientServer, JavaParameters, PythonParameters
from py4j.java_gateway import PythonProxyPool

from helpers import gone, in_group
from nas_pattern.gateway import READY, TOKEN_ENV, HandoutPool


def start_engine(token: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token is not None:
        env[TOKEN_ENV] = token
    return subprocess.Popen([sys.executable, "-m", "nas_pattern.gateway"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


TOKEN = "the-token-" + "0123456789abcdef" * 2  # long enough to be secret


@pytest.fixture
def engine() -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = start_engine(TOKEN)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(READY + " "), line + process.stderr.read()  # type: ignore[union-attr]
    yield process, int(line.split()[1])
    process.kill()
    process.wait()


def authenticate(port: int, token: str) -> str:
    """Speak py4j's auth command to the engine, as a JVM would first; return its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"A\n{token}\ne\n".encode())  # command, token, end of command
        return sock.makefile().readline().strip()


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses on which a socket listens on `port`, from the kernel's table (Linux)."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # 0A: LISTEN
            addresses.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return addresses


@pytest.mark.slow
def test_the_engine_refuses_to_start_without_a_token() -> None:
    process = start_engine(None)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip().splitlines() == [f"nas-pattern gateway: error: no auth token: set {TOKEN_ENV} "
                                        "(NASGateway does this when it launches the engine)"]
    assert READY not in out


@pytest.mark.slow
@pytest.mark.parametrize("weak, why", [
    ("right-token-123", "has 15 characters; at least 32 characters are needed to be secret"),
    ("x" * 31, "has 31 characters; at least 32 characters are needed to be secret"),
    ("a" * 32, "has only 1 distinct characters; at least 10 are needed to be secret"),
    ("abab" * 16, "has only 2 distinct characters; at least 10 are needed to be secret"),
], ids=["short", "31", "32-a", "abab"])
def test_the_engine_refuses_a_token_too_easy_to_guess(weak: str, why: str) -> None:
    process = start_engine(weak)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"nas-pattern gateway: error: the auth token in {TOKEN_ENV} {why}"), line
    assert READY not in out


@pytest.mark.slow
def test_the_engine_listens_on_loopback_and_refuses_a_wrong_token(engine) -> None:
    process, port = engine
    assert authenticate(port, TOKEN) == "!yv"  # py4j's "ok, void"
    assert authenticate(port, "a-wrong-token-" + "0123456789abcdef" * 2).startswith("!x")  # py4j's error answer
    assert listening_addresses(port) == {"127.0.0.1"}  # loopback only
    assert process.poll() is None  # a refused client does not bring the engine down


@pytest.mark.slow
def test_the_engine_exits_when_its_stdin_closes(engine) -> None:
    """Before any JVM connected, that is a mistake worth a line (an engine started by hand with its
    stdin from /dev/null); the JVM test suite checks the status once a JVM is attached."""
    process, _ = engine
    process.stdin.close()
    assert process.wait(timeout=30) == 2
    err = process.stderr.read()
    assert "stdin closed before any JVM connected" in err and "sleep infinity |" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_ctrl_c_stops_the_engine_in_one_line(engine) -> None:
    """A terminal's Ctrl-C reached the engine (in its JVM's process group, or started by hand) as a
    KeyboardInterrupt traceback, then "terminate called without an active exception"."""
    process, _ = engine
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert process.stderr.read() == ("nas-pattern gateway: interrupted; it stopped serving (the searches it ran are "
                                     "recorded in their run directories)\n")


class Handout:
    """A stand-in for an adapter handed to a JVM."""


class ServingThread:
    """py4j's JavaClient as the pool asks it: the connection serving the call under way, if any."""

    def __init__(self) -> None:
        self.connection: object | None = None

    def get_thread_connection(self) -> object | None:
        return self.connection


def test_the_pool_lets_go_of_what_a_closed_connection_was_handed() -> None:
    """A JVM that is gone never says it dropped the adapters it held: without this, a controller's
    search (its data, its networks) stayed in the engine for good."""
    entry = Handout()
    first = PythonProxyPool()
    first.put(entry, "t")  # the entry point, which py4j puts there first
    client = ServingThread()
    pool = HandoutPool(first, client)  # type: ignore[arg-type]
    gone, alive = object(), object()
    client.connection = gone
    held, dropped = Handout(), Handout()
    held_id, dropped_id = pool.put(held), pool.put(dropped)
    client.connection = alive
    other_id = pool.put(Handout())
    client.connection = None
    unserved_id = pool.put(Handout())  # handed out outside a JVM's call: no connection to blame
    del pool[dropped_id]  # what py4j does when the JVM says it dropped one
    freed = weakref.ref(held)
    del held
    assert pool.release(gone) == 1
    assert freed() is None  # nothing else held it
    assert held_id not in pool and dropped_id not in pool
    assert other_id in pool and unserved_id in pool and pool["t"] is entry
    assert pool.release(gone) == 0
    assert pool.release(alive) == 1 and other_id not in pool


class Connection:
    """py4j's connection as the pool sees it: the socket of a call from the JVM."""

    def __init__(self, sock: socket.socket):
        self.socket = sock


def test_the_pool_tells_whether_the_jvm_of_the_call_under_way_is_gone() -> None:
    """A JVM killed during a search(n, null) gets no callback that would fail: the engine looks at the
    connection of its call, which would otherwise go unanswered until the whole budget was spent."""
    client = ServingThread()
    pool = HandoutPool(PythonProxyPool(), client)  # type: ignore[arg-type]
    assert not pool.caller_gone()  # not serving a JVM's call
    engine_end, jvm_end = socket.socketpair()
    client.connection = Connection(engine_end)
    assert not pool.caller_gone()  # waiting for the answer
    jvm_end.sendall(b"unread")
    assert not pool.caller_gone()  # anything it sends says that it is there
    assert engine_end.recv(6) == b"unread"
    jvm_end.close()
    assert pool.caller_gone()
    assert pool.caller_gone()  # asking does not consume the news
    engine_end.close()
    assert pool.caller_gone()  # closed on this end too


def test_the_engine_serves_from_the_pool_that_lets_go() -> None:
    """Every holder of py4j's pool (the connections to come, the server) sees the one that lets go."""
    server = ClientServer(java_parameters=JavaParameters(address="127.0.0.1", auto_convert=False),
                          python_parameters=PythonParameters(address="127.0.0.1", port=0, daemonize=True),
                          python_server_entry_point=Handout())
    try:
        pool = HandoutPool.install(server)
        assert server.gateway_property.pool is pool and server.get_callback_server().pool is pool
        assert isinstance(pool["t"], Handout)  # the entry point came along
    finally:
        server.shutdown()


# ---- the JVM examples' command lines ----

ROOT = Path(__file__).resolve().parent.parent


def example_command(language: str) -> list[str]:
    """How `make java-example` and its twins start the examples, on the jar `make jvm` built."""
    if not (ROOT / "build" / "jvm" / ".built").is_file():
        pytest.fail("build/jvm is missing: `make jvm` builds the front-ends (`make test` does it first)")
    py4j = next((Path(sys.prefix) / "share" / "py4j").glob("py4j*.jar"))
    jars = f"build/naspattern.jar:{py4j}"
    return {"java": ["java", "-cp", f"build/jvm/examples:{jars}", "NASExample"],
            "scala": ["scala", "-cp", f"build/jvm/scala:{jars}", "NASExample"],
            "clojure": ["clojure", "-cp", f"{jars}:/usr/share/java/data.json.jar:clojure/src",
                        "-m", "naspattern.example"]}[language]


@pytest.mark.slow
@pytest.mark.parametrize("language", ["java", "scala", "clojure"])
@pytest.mark.parametrize(("args", "why"), [(["two"], "episodes must be an integer >= 1, got two"),
                                           (["0"], "episodes must be an integer >= 1, got 0"),
                                           (["2", "--weight-sharing", "--episodes"], "unknown flag --episodes"),
                                           (["2", "runs/x", "more"], "unexpected argument more")])
def test_a_jvm_example_refuses_a_bad_command_line_in_one_line_before_an_engine_starts(
        language: str, args: list[str], why: str) -> None:
    env = {**os.environ, "NAS_PATTERN_PYTHON": "/nonexistent/python"}  # an engine launched would fail otherwise
    done = subprocess.run(example_command(language) + args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    name = "naspattern.example" if language == "clojure" else "NASExample"
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.startswith(f"{name}: error: {why} (usage: ") and done.stderr.count("\n") == 1, done.stderr
    assert "[episodes] [run-dir] [--weight-sharing])" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("language", ["java", "scala", "clojure"])
def test_a_jvm_example_explains_its_command_line_on_help_before_an_engine_starts(language: str) -> None:
    env = {**os.environ, "NAS_PATTERN_PYTHON": "/nonexistent/python"}  # an engine launched would fail otherwise
    usage = "naspattern.example [episodes]" if language == "clojure" else "usage: NASExample [episodes]"
    for flag in ("--help", "-h"):
        done = subprocess.run([*example_command(language), "2", flag], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        lines = done.stdout.splitlines()
        assert usage in lines[0] and lines[0].endswith("[run-dir] [--weight-sharing]")
        assert [line.split()[0] for line in lines[1:4]] == ["episodes", "run-dir", "--weight-sharing"]
        assert "NAS_PATTERN_PYTHON" in lines[-1]


def documented_jvm_command_lines() -> list[tuple[str, str]]:
    """The README's and the guide's command lines that start a JVM example by hand (`java -cp ...`),
    each with the lines of its block before it, which set its variables: (page, script)."""
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"^```(?:sh|bash)\n(.*?)^```$", page.read_text(), re.MULTILINE | re.DOTALL):
            before: list[str] = []
            for line in block.replace("\\\n", " ").splitlines():
                if re.search(r"\b(java|scala|clojure) -cp ", line):
                    found.append((page.name, "\n".join([*before, line])))
                elif not line.lstrip().startswith("#"):
                    before.append(line)
    return found


@pytest.mark.slow
def test_the_documented_class_paths_find_the_front_end_in_its_jar() -> None:
    """The jar that `make jar` builds is the whole front-end: the README's and the guide's command
    lines start their examples from it (each gets as far as launching the engine, which is given a
    python that is not there), and Clojure's naspattern.core loads from it alone."""
    jar = ROOT / "build" / "naspattern.jar"
    if not jar.is_file():
        pytest.fail("build/naspattern.jar is missing: `make jar` builds it (`make test` does it first)")
    lines = documented_jvm_command_lines()
    programs = sorted((page, re.search(r"\b(java|scala|clojure) -cp ", script)[1]) for page, script in lines)  # type: ignore[index]
    assert programs == [("08-running.md", "clojure"), ("08-running.md", "java"), ("08-running.md", "scala"),
                        ("README.md", "java")]
    for page, script in lines:
        assert "$PWD/build/naspattern.jar:" in script.splitlines()[-1], (page, script)
        assert "$PWD/.venv/bin/python" in script, (page, script)  # the engine: replaced by one that is not there
        done = subprocess.run(["bash", "-c", script.replace("$PWD/.venv/bin/python", "/nonexistent/python")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout) == (1, ""), (page, script, done.stderr)
        assert done.stderr.startswith("error: cannot start the Python engine with '/nonexistent/python'"), done.stderr
    py4j = next((Path(sys.prefix) / "share" / "py4j").glob("py4j*.jar"))
    done = subprocess.run(["clojure", "-cp", f"{jar}:{py4j}:/usr/share/java/data.json.jar", "-e",
                           "(require 'naspattern.core) (println (ns-name (the-ns 'naspattern.core)))"],
                          cwd="/", capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.split()) == (0, ["naspattern.core"]), done.stderr
    with zipfile.ZipFile(jar) as archive:
        manifest = archive.read("META-INF/MANIFEST.MF").decode()
    version = re.search(r'^version = "(.*)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]  # type: ignore[index]
    assert f"Implementation-Version: {version}" in manifest.splitlines()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the processes from /proc")
def test_ctrl_c_at_a_terminal_stops_a_jvm_example_and_its_engine_with_a_line_each(tmp_path: Path) -> None:
    """The JVM and the engine it launched are in the terminal's process group, and both take its
    Ctrl-C: the engine ended in a traceback, and the example's line said only that the gateway was
    closed. What was recorded stays, for {"resume": DIR}."""
    example = subprocess.Popen(
        [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
         "os.execvp(sys.argv[1], sys.argv[1:])", *example_command("java"), "40", str(tmp_path / "run")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "NAS_PATTERN_PYTHON": sys.executable})
    try:
        assert example.stdout is not None
        validated = 0
        while validated < 2:  # two children recorded, the third in training
            line = example.stdout.readline()
            assert line, f"the example ended before its second child: {example.communicate()[0]}"
            validated += line.startswith("Validation:")
        os.killpg(example.pid, signal.SIGINT)
        out, _ = example.communicate(timeout=120)
        # 130, the JVM's status for SIGINT; or 1 where the example's System.exit(1), in its catch of the
        # closed gateway, came once the shutdown hooks had run (Java then halts with that status)
        assert example.returncode in (130, 1), out
        assert "Traceback" not in out and "terminate called" not in out, out
        engine, *example_said = out.splitlines()
        assert engine == ("nas-pattern gateway: interrupted; it stopped serving (the searches it ran are recorded "
                          "in their run directories)"), out
        # and the example's line for the call cut short, unless the JVM halted first: the gateway closed by
        # the JVM's shutdown, or, where the engine's end came first, the engine's exit
        assert example_said in ([], ["error: this NASGateway was closed as the JVM shut down (Ctrl-C, SIGTERM or "
                                     'System.exit); a search it ran is recorded in its run directory, and {"resume": '
                                     'DIR} goes on with it']) or (
            len(example_said) == 1 and example_said[0].startswith("error: the Python engine exited with status 130")
        ), out
        assert gone(example.pid), f"left running: {in_group(example.pid)}"
        assert len((tmp_path / "run" / "episodes.jsonl").read_text().splitlines()) >= 2
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(example.pid, signal.SIGKILL)

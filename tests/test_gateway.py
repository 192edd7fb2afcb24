"""The Python end of the py4j bridge: the engine process, its token, its configs.

The JVM suites (JUnit, Scala, clojure.test; `make jvm-test`) drive the adapters through a live bridge.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas_pattern.config import build_parser
from nas_pattern.gateway import READY, TOKEN_ENV
from nas_pattern.session import args_from_json, open_search


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


def test_a_json_config_means_what_the_same_flags_mean() -> None:
    config = '{"network": "rnn", "train-limit": 300, "children_per_update": 2, "final-epochs": 0}'
    expected = build_parser().parse_args(["--network", "rnn", "--train-limit", "300",
                                          "--children-per-update", "2", "--final-epochs", "0"])
    assert args_from_json(config) == expected
    sized = args_from_json('{"reward": "accuracy-size", "target-params": 20000, "size-weight": -0.1}')
    assert sized == build_parser().parse_args(["--reward", "accuracy-size", "--target-params", "20000",
                                               "--size-weight", "-0.1"])


@pytest.mark.parametrize("config, message", [
    ('{"episodes": 0}', "argument --episodes: must be >= 1, got 0"),
    ('{"dataset": "nope"}', "argument --dataset: invalid choice: 'nope'"),
    ('{"epoch": 2}', "unknown config key 'epoch'; expected one of: agent, child-timeout,"),
    ('{"episodes": true}', "config key 'episodes' must be a string or a number, got true"),
    ('{"seed": null}', "config key 'seed' is null: give it a value, or leave the key out for its default"),
    ('{"space": {"max_layers": 1}}', "config key 'space' must be a string or a number"),
    ('{"network": "cnn",', "config is not valid JSON: Expecting property name"),
    ('"cnn"', "config must be a JSON object of flags, got str"),
])
def test_a_bad_config_is_one_clear_line(config: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        args_from_json(config)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_refused_config_leaves_an_existing_run_untouched(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    search = open_search(args_from_json(json.dumps({"run-dir": str(run_dir), "train-limit": 100})))
    search.run_dir.record(_first_child(search))
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    with pytest.raises(ValueError, match="already holds a search"):
        open_search(args_from_json(json.dumps({"run-dir": str(run_dir)})))
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_a_run_directory_that_recorded_nothing_may_be_used_again(tmp_path: Path) -> None:
    """Issue 25: a controller created, then a refused search(-1), must not use up the directory;
    within one engine, though, a directory open in another controller is refused."""
    from nas_pattern.gateway import Engine

    run_dir = tmp_path / "run"
    open_search(args_from_json(json.dumps({"run-dir": str(run_dir), "train-limit": 100})))
    again = open_search(args_from_json(json.dumps({"run-dir": str(run_dir), "train-limit": 200})))
    assert json.loads((run_dir / "config.json").read_text())["config"]["search"]["train_limit"] == 200
    engine = Engine(threading.Event())
    engine.searches.append(again)
    with pytest.raises(ValueError, match="open in another controller of this engine"):
        open_search(args_from_json(json.dumps({"run-dir": str(run_dir)})), claim=engine._claim)
    assert json.loads((run_dir / "config.json").read_text())["config"]["search"]["train_limit"] == 200


def _first_child(search):
    from nas_pattern.networks.base import Metrics
    from nas_pattern.records import Episode

    architecture = search.controller.agent.space.decode([0] * len(search.controller.agent.space.num_choices))
    return Episode(episode=1, architecture=architecture, metrics=Metrics(0.5, 1.0, 10, 0.1), reward=0.5,
                   baseline=0.5, cached=False, seconds=0.1)


def test_the_cli_no_longer_takes_abbreviated_flags(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--epoch", "2"])
    assert "unrecognized arguments: --epoch 2" in capsys.readouterr().err



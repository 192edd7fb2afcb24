"""The py4j bridge: Java, Scala and Clojure drive this same engine through it.

The JVM's `naspattern.NASGateway` launches `python -m nas_pattern.gateway` with an auth token in
NAS_PATTERN_TOKEN. This process listens on the loopback address, prints `PY4J_READY <port>`, and
serves until shutdown() is called or its stdin closes (so it never outlives the JVM). The classes
below are adapters: each implements a Java interface of package `naspattern` (camelCase) by calling
the core (snake_case), which is not renamed. Values cross as Java primitives, strings and the
small Java value classes (Architecture, Metrics, Episode, SearchResult), built from primitives.

One module of ~330 lines: the adapters, the error translation and the server's life cycle are
the one boundary to the JVM, and each needs the others to be read.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import statistics
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch
from py4j.clientserver import ClientServer, JavaParameters, PythonParameters
from py4j.java_gateway import JavaObject
from py4j.protocol import Py4JJavaError

from nas_pattern.agents.base import Sample
from nas_pattern.config import EXIT_BAD_INPUT
from nas_pattern.controller import NASController
from nas_pattern.model import MODEL, FoundModel, load_model
from nas_pattern.networks.base import Metrics
from nas_pattern.networks.base import Network as CoreNetwork
from nas_pattern.records import Episode, SearchResult
from nas_pattern.run_dir import Recorder
from nas_pattern.search_space import Architecture
from nas_pattern.session import RunFinished, Search, args_from_json, finish, open_search
from nas_pattern.trainer import device_name, resolve_device

TOKEN_ENV = "NAS_PATTERN_TOKEN"  # the auth token, set by the JVM launcher (never on the command line)
MIN_TOKEN_LENGTH = 32  # characters; a shorter token is too easy to guess (NASGateway draws 64 hex digits)
MIN_TOKEN_DISTINCT = 10  # distinct characters: 32 x "a" is long but guessable (64 random hex digits have 16)
READY = "PY4J_READY"  # the readiness line: READY <port>
LOOPBACK = "127.0.0.1"

# Every error reaches the JVM caller as a NASException with one line. Input errors are the
# caller's to fix; the others are also printed with their traceback on the engine's stderr.
INPUT_ERRORS = (ValueError, FileNotFoundError, RunFinished)

F = TypeVar("F", bound=Callable[..., Any])

# The adapters' public methods carry the Java interfaces' camelCase names: py4j calls them by those.


class Bridge:
    """What every adapter needs: the gateway (to build Java values) and the conversions."""

    def __init__(self, server: ClientServer):
        self.server = server
        self.jvm = server.jvm

    def architecture(self, architecture: Architecture) -> JavaObject:
        return self.jvm.naspattern.Architecture(json.dumps(architecture.to_json()), architecture.describe())

    def metrics(self, metrics: Metrics | None) -> JavaObject | None:
        if metrics is None:
            return None
        return self.jvm.naspattern.Metrics(float(metrics.accuracy), float(metrics.loss), int(metrics.params),
                                           float(metrics.train_seconds))

    def episode(self, e: Episode) -> JavaObject:
        return self.jvm.naspattern.Episode(e.episode, self.architecture(e.architecture), self.metrics(e.metrics),
                                           float(e.reward), float(e.baseline), e.cached, float(e.seconds),
                                           e.status, e.reason)

    def result(self, r: SearchResult, run_dir: Path) -> JavaObject:
        model = run_dir / MODEL
        return self.jvm.naspattern.SearchResult(self.episode(r.best), self.metrics(r.test), len(r.episodes),
                                                r.stop_reason, float(r.seconds), str(run_dir),
                                                str(model) if model.exists() else None)

    @staticmethod
    def core_metrics(metrics: JavaObject) -> Metrics:
        if metrics is None:
            raise ValueError("metrics must not be null")
        return Metrics(accuracy=metrics.accuracy(), loss=metrics.loss(), params=metrics.params(),
                       train_seconds=metrics.trainSeconds())

    def java_exception(self, error: BaseException) -> Py4JJavaError:
        """`error` as a naspattern.NASException that py4j rethrows on the JVM (see PythonParameters)."""
        message = str(error) if isinstance(error, INPUT_ERRORS) else f"{type(error).__name__}: {error}"
        return Py4JJavaError(message, self.jvm.naspattern.NASException(message))


def reported(method: F) -> F:
    """Turn every error of a JVM call into a NASException with one clear line (never py4j's
    Py4JException with a Python traceback in it)."""

    @functools.wraps(method)
    def call(self: Any, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Py4JJavaError:
            raise  # already a Java exception (e.g. thrown by a listener): the JVM gets it back as it was
        except Exception as error:
            if not isinstance(error, INPUT_ERRORS):
                traceback.print_exc()
            raise self.bridge.java_exception(error) from error

    return cast(F, call)


class Identity:
    """toString and hashCode of an adapter, which py4j forwards to Python. The hash is a serial
    number of the core object it adapts, unique in this engine, so the JVM's equals (in Bridged)
    compares hashes: every getAgent() proxy is then equal to the others."""

    bridge: Bridge
    _serials: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
    _next_serial = itertools.count(1)

    def core(self) -> object:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def toString(self) -> str:
        return self.describe()

    def hashCode(self) -> int:
        core = self.core()
        if core not in Identity._serials:
            Identity._serials[core] = next(Identity._next_serial)
        return Identity._serials[core]


# --8<-- [start:adapter]
class Agent(Identity):
    """naspattern.RLAgent, adapting the core's Agent (RLAgent or RandomAgent)."""

    class Java:
        implements = ["naspattern.RLAgent"]

    def __init__(self, bridge: Bridge, controller: NASController):
        self.bridge = bridge
        self.agent = controller.agent
        self.given: dict[int, Sample] = {}  # the samples handed to the JVM, by number

    @reported
    def policy(self) -> JavaObject:
        sample = self.agent.policy()
        self.given[sample.number] = sample
        return self.bridge.jvm.naspattern.Sample(sample.number, self.bridge.architecture(sample.architecture))

    @reported
    def reward(self, sample: JavaObject, metrics: JavaObject) -> float:
        if sample is None:
            raise ValueError("sample must not be null: reward the Sample that policy() returned")
        number = sample.number()
        if number not in self.given:  # the controller's own samples never cross the bridge
            raise ValueError(f"cannot reward sample {number}: this RLAgent never gave it to the JVM "
                             "(policy() gives the samples; evaluateNetwork() rewards the controller's own)")
        return float(self.agent.reward(self.given[number], self.bridge.core_metrics(metrics)))

    @reported
    def valueFunction(self) -> float:
        return float(self.agent.value_function())

    @reported
    def updatePolicy(self) -> str:
        return json.dumps(self.agent.update_policy())

    def core(self) -> object:
        return self.agent

    def describe(self) -> str:
        return f"RLAgent ({type(self.agent).__name__}, {len(self.agent.space.num_choices)} decisions per architecture)"


# --8<-- [end:adapter]


class Network(Identity):
    """naspattern.Network, adapting a child the controller built (CNN or RNN)."""

    class Java:
        implements = ["naspattern.Network"]

    def __init__(self, bridge: Bridge, network: CoreNetwork, controller: NASController):
        self.bridge = bridge
        self.network = network
        self.controller = controller

    def core(self) -> object:
        return self.network

    def describe(self) -> str:
        return f"Network ({type(self.network).__name__} {self.network.architecture.describe()})"

    @reported
    def architecture(self) -> JavaObject:
        return self.bridge.architecture(self.network.architecture)

    @reported
    def train(self, epochs: int) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        self.network.train(self.controller.data.train.head(self.controller.config.train_limit), epochs)

    @reported
    def evaluate(self) -> JavaObject:
        return self.bridge.metrics(self.network.evaluate(self.controller.data.val))

    @reported
    def layers(self) -> JavaObject:
        lines = self.network.layers
        array = self.bridge.server.new_array(self.bridge.jvm.String, len(lines))
        for i, line in enumerate(lines):
            array[i] = line
        return array


class Controller(Identity):
    """naspattern.NASController, adapting the core's NASController; records to the run directory
    exactly as `python -m nas_pattern.run` does, so a JVM search can be resumed from the CLI."""

    class Java:
        implements = ["naspattern.NASController"]

    def __init__(self, bridge: Bridge, search: Search):
        self.bridge = bridge
        self.search_ = search
        self.controller = search.controller
        self.agent = Agent(bridge, self.controller)
        self.listener: JavaObject | None = None  # the SearchListener of the search() under way
        Recorder(search.run_dir, self.controller)
        self.controller.add_callback(self._tell_listener)

    @reported
    def generateArchitecture(self) -> JavaObject:
        return self.bridge.architecture(self.controller.generate_architecture())

    @reported
    def trainNetwork(self, architecture: JavaObject) -> Network:
        if architecture is None:
            raise ValueError("architecture must not be null")
        parsed = self.controller.agent.space.parse(json.loads(architecture.json()))
        return Network(self.bridge, self.controller.train_network(parsed), self.controller)

    @reported
    def evaluateNetwork(self) -> JavaObject:
        return self.bridge.metrics(self.controller.evaluate_network())

    def getAgent(self) -> Agent:
        return self.agent

    def getNetwork(self) -> Network | None:
        network = self.controller.network
        return None if network is None else Network(self.bridge, network, self.controller)

    @reported
    def search(self, episodes: int, listener: JavaObject) -> JavaObject:
        """`episodes` more children: the budget becomes the children so far plus these, recorded in
        config.json, so that the CLI resumes a JVM search with the budget it was given."""
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        controller, session = self.controller, self.search_
        session.set_budget(len(controller.history) + episodes)
        self.listener = listener
        try:
            result = controller.search()
        finally:
            self.listener = None
        result = controller.final_test(result, session.config.final_epochs)
        for line in finish(session, result):
            print(f"nas-pattern: model: {line}", file=sys.stderr)
        return self.bridge.result(result, session.run_dir.path.resolve())

    def runDir(self) -> str:
        return str(self.search_.run_dir.path)

    def core(self) -> object:
        return self.controller

    def describe(self) -> str:
        return f"NASController (run dir {self.runDir()}, {len(self.controller.history)} children so far)"

    def _tell_listener(self, episode: Episode) -> None:
        if self.listener is None:
            return
        self.listener.onEpisode(self.bridge.episode(episode))
        if self.listener.shouldStop():
            self.controller.stop()


class Model(Identity):
    """naspattern.ModelEngine, serving a saved model (nas_pattern.load_model) to FoundModel.predict:
    the images come packed as little-endian float32 bytes and the answer goes back the same way, so
    a batch of images is one call across the bridge, not one per pixel."""

    class Java:
        implements = ["naspattern.ModelEngine"]

    def __init__(self, bridge: Bridge, model: FoundModel):
        self.bridge = bridge
        self.model = model

    @reported
    def classify(self, pixels: bytes, count: int) -> bytes:
        size = self.pixelsPerImage()
        values = np.frombuffer(bytes(pixels), dtype="<f4")
        if count < 0 or len(values) != count * size:
            raise ValueError(f"expected {count} images of {size} values, got {len(values)} values")
        classes, probabilities = self.model.predict(values.reshape(count, *self.model.card.input_shape))
        return (classes.numpy().astype("<i4").tobytes() + probabilities.numpy().astype("<f4").tobytes())

    def pixelsPerImage(self) -> int:
        return math.prod(self.model.card.input_shape)

    def numClasses(self) -> int:
        return self.model.card.num_classes

    def core(self) -> object:
        return self.model

    def describe(self) -> str:
        card = self.model.card
        return f"FoundModel ({card.network.rsplit(':', 1)[-1]} {self.model.architecture.describe()}; {card.trained})"


class Engine:
    """naspattern.Engine, the entry point the JVM reaches first; also naspattern.Diagnostics, the
    timing calls of the bridge benchmark."""

    class Java:
        implements = ["naspattern.Engine", "naspattern.Diagnostics"]

    def __init__(self, done: threading.Event):
        self.done = done  # set when the engine should exit
        self.bridge: Bridge  # set by serve() once the server exists
        self.searches: list[Search] = []  # opened for the JVM; their executors are closed at the end
        self.attached = False  # whether a JVM has connected (an engine whose stdin ends before says why)
        self.done_by_shutdown = False  # whether the JVM asked the engine to stop (not the end of stdin)

    def attach(self, java_port: int) -> None:
        # Calls into the JVM made while serving a JVM call reuse that call's connection; this
        # port is for the rest (py4j's memory management, calls from other threads).
        self.bridge.server.java_parameters.port = java_port
        self.attached = True

    @reported
    def newController(self, config_json: str | None) -> Controller:
        if config_json is None:
            raise ValueError("config must be a JSON object of flags, got null")
        search = open_search(args_from_json(config_json), claim=self._claim)
        self.searches.append(search)
        if search.warning:
            print(f"nas-pattern: warning: {search.warning}", file=sys.stderr)
        return Controller(self.bridge, search)

    def _claim(self, run_dir: Path) -> None:
        """Refuse a run directory that another controller of this engine holds: a directory with no
        child recorded yet may be taken again, but not from under a controller that is using it."""
        for search in self.searches:
            if search.run_dir.path.resolve() == run_dir.resolve():
                raise ValueError(f"run directory {run_dir} already holds a search, open in another controller "
                                 "of this engine; use that controller, or choose another run-dir")

    @reported
    def loadModel(self, path: str | None) -> Model:
        if path is None:
            raise ValueError("the model path must not be null")
        return Model(self.bridge, load_model(path))

    @reported
    def version(self) -> str:
        return f"nas-pattern {version('nas-pattern')}, torch {torch.__version__}, {device_name(resolve_device('auto'))}"

    def echo(self, text: str) -> str:
        return text

    @reported
    def medianCallbackSeconds(self, listener: JavaObject, calls: int) -> float:
        if calls < 1:
            raise ValueError(f"calls must be >= 1, got {calls}")
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            listener.shouldStop()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def shutdown(self) -> None:
        self.done_by_shutdown = True
        self.done.set()


def serve(token: str, *, ready: Callable[[int], None]) -> Engine:
    """Serve the JVM until shutdown() or the end of stdin. `ready(port)` is called once listening.
    Returns the engine, which says whether a JVM attached and whether it asked to shut down."""
    done = threading.Event()
    engine = Engine(done)
    server = ClientServer(
        java_parameters=JavaParameters(address=LOOPBACK, auth_token=token, auto_convert=False),
        python_parameters=PythonParameters(address=LOOPBACK, port=0, auth_token=token,
                                           propagate_java_exceptions=True, daemonize=True,
                                           daemonize_connections=True),
        python_server_entry_point=engine)
    engine.bridge = Bridge(server)
    threading.Thread(target=_wait_for_end_of_input, args=(done,), daemon=True).start()
    ready(server.get_callback_server().get_listening_port())
    done.wait()
    time.sleep(0.1)  # let the reply to shutdown() reach the JVM
    for search in engine.searches:  # Ray workers, a local Ray instance
        with contextlib.suppress(Exception):
            search.controller.executor.close()
    server.shutdown()
    return engine


def main() -> int:
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"nas-pattern gateway: error: no auth token: set {TOKEN_ENV} (NASGateway does this when it "
              "launches the engine)", file=sys.stderr)
        return EXIT_BAD_INPUT
    weakness = token_weakness(token)
    if weakness:
        print(f"nas-pattern gateway: error: the auth token in {TOKEN_ENV} {weakness}", file=sys.stderr)
        return EXIT_BAD_INPUT
    engine = serve(token, ready=lambda port: print(f"{READY} {port}", flush=True))
    if not engine.attached and not engine.done_by_shutdown:
        print("nas-pattern gateway: error: stdin closed before any JVM connected, so the engine stopped (it "
              "serves until its stdin closes, to never outlive the JVM that launched it). To start one yourself "
              "for NASGateway.connect(port, token), keep its stdin open: "
              f"sleep infinity | {TOKEN_ENV}=... python -m nas_pattern.gateway", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def token_weakness(token: str) -> str | None:
    """Why `token` is too easy to guess, or None: too short, or too few distinct characters."""
    if len(token) < MIN_TOKEN_LENGTH:
        return (f"has {len(token)} characters; at least {MIN_TOKEN_LENGTH} characters are needed to be secret "
                "(NASGateway draws 64 random hex digits)")
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return (f"has only {len(set(token))} distinct characters; at least {MIN_TOKEN_DISTINCT} are needed to be "
                "secret (a random token has them: NASGateway draws 64 random hex digits)")
    return None


def _exit(status: int) -> None:
    """Exit now: a thread may still be blocked reading stdin or training a child the JVM gave up
    on, and waiting for them at interpreter shutdown would hang or abort."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _wait_for_end_of_input(done: threading.Event) -> None:
    while sys.stdin.buffer.read(4096):
        pass
    done.set()


if __name__ == "__main__":
    _exit(main())

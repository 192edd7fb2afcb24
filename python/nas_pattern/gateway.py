"""The engine the JVM launches: `python -m nas_pattern.gateway`, the py4j bridge's Python end.

The JVM's `naspattern.NASGateway` launches it with an auth token in NAS_PATTERN_TOKEN. This process
listens on the loopback address, prints `PY4J_READY <port>`, and serves until shutdown() is called
or its stdin closes (so it never outlives the JVM). `Engine` is the entry point the JVM reaches
first; the participants cross as the adapters of adapters.py, over bridge.py's conversions. An
engine started by hand serves JVMs that connect() to it in turn: when one closes its gateway or
is gone, the engine closes the controllers it opened and lets go of what it held (`HandoutPool`).

One piece: the engine process's life, from its token to how it stops (shutdown(), the end of stdin,
Ctrl-C, a JVM gone), is read and changed as a whole.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from py4j.clientserver import ClientServer, JavaClient, JavaParameters, PythonParameters
from py4j.java_gateway import JavaObject, PythonProxyPool, server_connection_stopped

from nas_pattern.adapters import Controller, Model
from nas_pattern.bridge import Bridge, reported
from nas_pattern.config import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from nas_pattern.model import load_model
from nas_pattern.session import Search, args_from_json, open_search
from nas_pattern.trainer import device_name, resolve_device

TOKEN_ENV = "NAS_PATTERN_TOKEN"  # the auth token, set by the JVM launcher (never on the command line)
MIN_TOKEN_LENGTH = 32  # characters; a shorter token is too easy to guess (NASGateway draws 64 hex digits)
MIN_TOKEN_DISTINCT = 10  # distinct characters: 32 x "a" is long but guessable (64 random hex digits have 16)
READY = "PY4J_READY"  # the readiness line: READY <port>
LOOPBACK = "127.0.0.1"


class HandoutPool(PythonProxyPool):
    """py4j's pool of the Python objects the JVMs hold (the adapters), noting which bridge connection
    each was handed out on. py4j lets one go when its JVM says that it dropped it, which a JVM that
    has closed its gateway, or is gone, never says: a controller it held would keep its search's
    data and networks in the engine for good (300 MB each on Fashion-MNIST). release(connection)
    lets go of what was handed out on a connection that closed."""

    def __init__(self, pool: PythonProxyPool, client: JavaClient):
        super().__init__()
        self.dict, self.next_id = dict(pool.dict), pool.next_id  # the entry point, put there first
        self.client = client
        self.handed: dict[object, set[str]] = {}  # proxy ids, by the connection they were handed out on
        self.owner: dict[str, object] = {}  # the other way round

    def serving(self) -> object | None:
        """The bridge connection whose call this thread serves: py4j serves each on a thread of its own."""
        return self.client.get_thread_connection()

    def caller_gone(self) -> bool:
        """Whether the JVM whose call this thread serves has closed its end of the connection (it
        closed its gateway, or ended): while its call runs, the JVM sends nothing on it, so the
        socket turns readable only when that end closes. py4j notices only when it answers."""
        sock = getattr(self.serving(), "socket", None)
        if sock is None:  # not serving a JVM's call
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and not sock.recv(1, socket.MSG_PEEK)
        except (OSError, ValueError):  # reset by the JVM's end, or already closed on this one
            return True

    def put(self, object: Any, force_id: str | None = None) -> str:
        proxy_id: str = super().put(object, force_id)
        connection = self.serving()  # the call that hands it out
        if force_id is None and connection is not None:
            with self.lock:
                self.handed.setdefault(connection, set()).add(proxy_id)
                self.owner[proxy_id] = connection
        return proxy_id

    def __delitem__(self, proxy_id: str) -> None:  # the JVM dropped it
        with self.lock:
            super().__delitem__(proxy_id)
            connection = self.owner.pop(proxy_id, None)
            if connection is not None:
                self.handed[connection].discard(proxy_id)

    @classmethod
    def install(cls, server: ClientServer) -> HandoutPool:
        """Put one in place of the pool of `server`, before any JVM connects."""
        pool = cls(server.gateway_property.pool, server._gateway_client)
        server.gateway_property.pool = server.get_callback_server().pool = pool
        return pool

    def release(self, connection: object) -> int:
        """Let go of the objects handed out on `connection`; how many there were."""
        with self.lock:
            ids = self.handed.pop(connection, set())
            for proxy_id in ids:
                self.dict.pop(proxy_id, None)
                self.owner.pop(proxy_id, None)
        return len(ids)


class Engine:
    """naspattern.Engine, the entry point the JVM reaches first; also naspattern.Diagnostics, the
    timing calls of the bridge benchmark."""

    class Java:
        implements = ["naspattern.Engine", "naspattern.Diagnostics"]

    def __init__(self, done: threading.Event):
        self.done = done  # set when the engine should exit
        self.bridge: Bridge  # set by serve() once the server exists
        self.pool: HandoutPool  # py4j's pool of what the JVMs hold, also set by serve()
        self.searches: list[Search] = []  # opened for the JVM and not closed by it: closed at the end
        # The controllers not closed yet, by the bridge connection that opened them: when it closes, the
        # JVM that held them has closed its gateway or ended, and they are closed for it.
        self.opened_on: dict[object, list[Controller]] = {}
        self.lock = threading.RLock()  # the two above: JVM threads, and connections that close, race
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
        controller = Controller(self.bridge, search, closed=self._forget, caller_gone=self.pool.caller_gone)
        with self.lock:
            self.searches.append(search)
            self.opened_on.setdefault(self.pool.serving(), []).append(controller)
        if search.warning:
            print(f"nas-pattern: warning: {search.warning}", file=sys.stderr)
        return controller

    def _claim(self, run_dir: Path) -> None:
        """Refuse a run directory that another controller of this engine holds: a directory with no
        child recorded yet may be taken again, but not from under a controller that is using it."""
        for search in self.searches:
            if search.run_dir.path.resolve() == run_dir.resolve():
                raise ValueError(f"run directory {run_dir} already holds a search, open in another controller "
                                 "of this engine; use that controller, or choose another run-dir")

    def _forget(self, search: Search) -> None:
        """A controller closed: its search is no longer the engine's to close."""
        with self.lock:
            self.searches.remove(search)
            for opened in self.opened_on.values():
                opened[:] = [controller for controller in opened if controller.search_ is not search]

    def connection_closed(self, connection: object, **signal: object) -> None:
        """py4j's signal that a JVM's connection to this engine closed: the JVM closed its gateway
        (NASGateway.close() after connect() only disconnects) or ended, killed or not. Nothing can
        call the controllers it opened on that connection any more, so they are closed for it: their
        run directories are released, to be resumed by another JVM or the CLI. A controller whose
        search is under way is closed once that search stops, after its current child."""
        with self.lock:
            if self.done.is_set():  # the engine is ending, and closes every search itself
                return
            released = self.pool.release(connection)
            for controller in self.opened_on.pop(connection, []):
                controller.abandon()
        if released:
            gc.collect()  # an adapter and its core refer to each other (callbacks): free their tensors now

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


def serve(token: str, *, ready: Callable[[int], None], done: threading.Event | None = None) -> Engine:
    """Serve the JVM until shutdown(), the end of stdin or `done` is set. `ready(port)` is called once
    listening. Returns the engine, which says whether a JVM attached and whether it asked to shut down."""
    done = done or threading.Event()
    engine = Engine(done)
    server = ClientServer(
        java_parameters=JavaParameters(address=LOOPBACK, auth_token=token, auto_convert=False),
        python_parameters=PythonParameters(address=LOOPBACK, port=0, auth_token=token,
                                           propagate_java_exceptions=True, daemonize=True,
                                           daemonize_connections=True),
        python_server_entry_point=engine)
    engine.pool = HandoutPool.install(server)
    engine.bridge = Bridge(server)
    server_connection_stopped.connect(engine.connection_closed, sender=server.get_callback_server())
    threading.Thread(target=_wait_for_end_of_input, args=(done,), daemon=True).start()
    ready(server.get_callback_server().get_listening_port())
    done.wait()
    time.sleep(0.1)  # let the reply to shutdown() reach the JVM
    with engine.lock:
        searches = list(engine.searches)
    for search in searches:  # Ray workers, a local Ray instance
        with contextlib.suppress(Exception):
            search.close()
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
    logging.getLogger().addHandler(_log_handler())
    done, interrupted = threading.Event(), []

    def interrupt(signum: int, frame: object) -> None:
        # Ctrl-C: the engine stops serving as at the end of stdin, in one line. A terminal's Ctrl-C also
        # reaches the JVM that launched it (one process group), which shuts it down too; it used to end
        # in a traceback and "terminate called without an active exception". Set from a thread: this
        # handler may run while the main thread holds the event's lock.
        interrupted.append(signum)
        threading.Thread(target=done.set, daemon=True).start()

    signal.signal(signal.SIGINT, interrupt)
    engine = serve(token, ready=lambda port: print(f"{READY} {port}", flush=True), done=done)
    if interrupted:
        print("nas-pattern gateway: interrupted; it stopped serving (the searches it ran are recorded in their "
              "run directories)", file=sys.stderr)
        return EXIT_INTERRUPTED
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


def _log_handler() -> logging.Handler:
    """The engine's log on stderr: warnings and errors, as Python's last-resort handler writes them,
    except py4j's. py4j keeps its loggers silent (a NullHandler), but one of its errors is logged on
    the root logger (a JVM gone in the middle of a call), which would configure logging with a
    handler of its own, and from then on every py4j record would print a traceback, such as each
    refused input it sends the JVM as a NASException. A handler here keeps py4j as silent as it means
    to be; what the JVM should know reaches it as NASException, and the engine says the rest."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: "py4j" not in Path(record.pathname).parts)
    return handler


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

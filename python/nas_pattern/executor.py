"""Executor: runs the children of one policy update, in-process or on a Ray cluster.

The controller samples the m architectures of an update, hands the new ones to its executor and
rewards them in the order they were sampled, whatever order they finish in. `LocalExecutor` runs
them one at a time on the controller's own `Worker`; `RayExecutor` runs one per long-lived Ray
actor, each a `Worker`, with several children at once (fractional GPUs), on this machine or on a
cluster.

One piece: the Executor interface and the two the controller swaps behind it (a strategy), each
running the same Worker, in this process, in worker processes, or on Ray actors.
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

import torch

from nas_pattern.data import Split
from nas_pattern.files import sigint_blocked
from nas_pattern.memory import MEMORY_SHARE
from nas_pattern.records import Child, Outcome, counted, first_line
from nas_pattern.trainer import Epoch, device_name
from nas_pattern.worker import Worker, WorkerSetup, dataset_on

EXECUTORS = ("local", "ray")
# seconds the cluster may take to start the workers and load the data onto them
WORKER_START_LIMIT = 300.0
# Seconds beyond --child-timeout that a Ray worker may take to answer (a restart loads the data
# again) before its child is recorded as a timeout and the worker replaced.
RESTART_GRACE = 60.0


class Executor(abc.ABC):
    """Runs children for the controller."""

    @abc.abstractmethod
    def start(self, worker: Worker) -> None:
        """Get ready to run children as `worker` (the controller's own, in its process) does."""

    @abc.abstractmethod
    def run(self, children: Sequence[Child]) -> Generator[Outcome, None, None]:
        """The outcome of each child, in the order of `children`, each as soon as it and the ones
        before it are done. A child whose worker is lost is an "error" outcome, never a hang."""

    @abc.abstractmethod
    def test(self, child: Child, final_epochs: int = 0, weights: dict[str, Any] | None = None,
             resume: dict[str, Any] | None = None, on_epoch: Callable[[Epoch], None] | None = None) -> Outcome:
        """Worker.test() of the best child, with the weights run() sent back for it if any (or the
        state of its final retraining to go on from): its test metrics and the weights tested.
        `on_epoch` is called in this process after each epoch of the final retraining, in order."""

    def ready(self) -> bool:
        """Whether the next outcome of the run() in progress is done, so that taking it would not
        wait: past its time limit the controller takes the rest of a round only as far as it is.
        False where that is not known (those children are then dropped, as at a stop)."""
        return False

    def describe(self) -> str:
        """Where the children run, for the progress header."""
        return ""

    def close(self) -> None:  # noqa: B027 (most executors hold nothing)
        """Let go of what start() took (processes, a Ray instance)."""


class _SendEpoch:
    """A Ray worker's on_epoch: each epoch of its final retraining put on `queue` for the driver, its
    state taken as the epoch ends (put() sends a copy before training goes on)."""

    def __init__(self, queue: Any):
        self.queue = queue

    def __call__(self, epoch: Epoch) -> None:
        self.queue.put((epoch.number, epoch.loss, epoch.state()))


class LocalExecutor(Executor):
    """The children of an update in this machine's processes, on the controller's device (the default).

    `children_at_once` 1 trains them one at a time on the controller's own Worker, in its process.
    K > 1 trains K at once, each in a worker process of its own (spawned once, each a Worker with the
    dataset on the device: on one GPU they share it) and rewards them in the order they were sampled,
    as one at a time does. Processes, not threads: a child's dropout draws from torch's global
    generator under a lock (trainer.seeded), so threads would train children with dropout one at a
    time. (On a GPU, threads with a CUDA stream each would share it better than processes, which
    time-slice: benchmarks/streams_probe.py; that needs a dropout generator per child first.)
    A worker process that dies is replaced and its child recorded as an error. The workers leave
    Ctrl-C to this process (which stops them) and end when it is gone, however it went.
    """

    def __init__(self, children_at_once: int = 1):
        if children_at_once < 1:
            raise ValueError(f"children at once must be >= 1, got {children_at_once}")
        self.children_at_once = children_at_once
        self.worker: Worker | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._next: Future[Outcome] | None = None  # the outcome run() gives next, with K at once

    def start(self, worker: Worker) -> None:
        self.worker = worker
        if self.children_at_once > 1:
            self._start_pool()

    def run(self, children: Sequence[Child]) -> Generator[Outcome, None, None]:
        assert self.worker is not None, "start() first"
        if self.children_at_once == 1:
            for child in children:
                yield self.worker.run(child)
            return
        futures = self._submit(children)
        try:
            for index in range(len(children)):
                try:
                    outcome = futures[index].result()
                except BrokenProcessPool as err:  # a worker process died (killed, out of memory): a new pool,
                    outcome = Outcome("error", "its worker process died while it or a child beside it trained: "
                                      f"{first_line(err)}")
                    if self._pool is not None:
                        self._pool.shutdown(wait=False, cancel_futures=True)
                        self._pool = None
                    futures[index + 1:] = self._submit(children[index + 1:])
                except _NotStarted as err:
                    outcome = Outcome("error", str(err))
                self._next = futures[index + 1] if index + 1 < len(futures) else None
                yield outcome
        finally:
            self._next = None
            if not all(future.done() for future in futures):  # stopped (Ctrl-C, SIGTERM) with children training
                self._abandon()

    def ready(self) -> bool:
        # K at once: the next child's future is done; one at a time, the next child has not started
        return self._next is not None and self._next.done()

    def test(self, child: Child, final_epochs: int = 0, weights: dict[str, Any] | None = None,
             resume: dict[str, Any] | None = None, on_epoch: Callable[[Epoch], None] | None = None) -> Outcome:
        assert self.worker is not None, "start() first"
        return self.worker.test(child, final_epochs, weights, resume, on_epoch)  # in this process

    def describe(self) -> str:
        if self.children_at_once == 1 or self.worker is None:
            return ""
        device = self.worker.device
        where = device_name(device) if device.type == "cuda" else \
            f"CPU ({counted(self._threads(), 'thread')} each)"  # as device_name() says it of one process
        return f"{where}, {self.children_at_once} children at once, each in a worker process of its own"

    def _threads(self) -> int:
        """Each worker process's torch threads: the CPU's shared out; on a GPU each drives it with one."""
        assert self.worker is not None
        return max(1, torch.get_num_threads() // self.children_at_once) if self.worker.device.type == "cpu" else 1

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                pool.shutdown(wait=True, cancel_futures=True)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM while they finish a child: they are stopped now
                _terminate(pool)

    def _abandon(self) -> None:
        """Stop the worker processes now, and the children they train with them: abandoned, as one at
        a time's child in progress is on Ctrl-C or SIGTERM (close() would wait for them to finish
        training, minutes, and throw them away). The next run() starts new worker processes."""
        pool, self._pool = self._pool, None
        if pool is not None:
            _terminate(pool)

    def _submit(self, children: Sequence[Child]) -> list[Future[Outcome]]:
        """A future outcome for each child, new worker processes started first where there are none
        (the last run() was stopped, or one died); if they cannot start, each fails with _NotStarted."""
        if self._pool is None:
            try:
                self._start_pool()
            except ValueError as err:
                return [_failed(_NotStarted(str(err))) for _ in children]
        assert self._pool is not None
        with sigint_blocked():
            return [self._pool.submit(_run_in_worker, child) for child in children]

    def _start_pool(self) -> None:
        """K worker processes, each holding the data on the device; ValueError if one cannot start.

        They start at once, each sent the data as its first task, which waits until all K have it:
        none is idle meanwhile, so each of the K tasks starts a process of its own. (The data in the
        start-up arguments made each start wait until the new process had imported torch and read
        it, one after the other, and once the first were idle the rest started during the search.)"""
        assert self.worker is not None
        device, count = self.worker.device, self.children_at_once
        # The dataset travels as numpy arrays, copied down a pipe: a torch tensor would go through shared
        # memory, which a container may have little of.
        data = dataset_on(self.worker.setup.data, torch.device("cpu"))
        arrays = {field: (split.x.numpy(), split.y.numpy())
                  for field, split in (("train", data.train), ("val", data.val), ("test", data.test))}
        spawn = multiprocessing.get_context("spawn")
        ready = spawn.Barrier(count)
        self._pool = ProcessPoolExecutor(max_workers=count, mp_context=spawn, initializer=_start_worker,
                                         initargs=(replace(self.worker.setup, data=replace(
                                             data, train=_empty(data.train), val=_empty(data.val),
                                             test=_empty(data.test))), str(device), self._threads(),
                                             MEMORY_SHARE / count,  # the CPU's memory shared out too
                                             ready))
        try:
            with sigint_blocked():  # submit() starts the worker processes: born with it blocked
                started = [self._pool.submit(_take_data, arrays) for _ in range(count)]
            done, _ = concurrent.futures.wait(started, timeout=WORKER_START_LIMIT, return_when=FIRST_EXCEPTION)
            failed = [future for future in done if future.exception() is not None]
            if failed or len(done) < count:
                ready.abort()  # the others wait no longer
                for future in failed:
                    future.result()  # raises what it raised
                raise TimeoutError(f"not all started in {WORKER_START_LIMIT:.0f} s")
            assert len({future.result() for future in started}) == count  # a process each
        except Exception as err:
            self.close()
            raise ValueError(f"--children-at-once {count}: a worker process failed to start: "
                             f"{type(err).__name__}: {first_line(err)}") from None
        except BaseException:  # Ctrl-C or SIGTERM while they start: they are stopped with it
            self._abandon()
            raise


class _NotStarted(Exception):
    """New worker processes could not start (LocalExecutor._submit): each child's outcome says why."""


def _failed(err: BaseException) -> Future[Outcome]:
    future: Future[Outcome] = Future()
    future.set_exception(err)
    return future


_WORKER: Worker | None = None  # in a worker process of LocalExecutor: its Worker
_START: tuple[WorkerSetup, str, int, float, Any] | None = None  # ... and what it was started with


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop `pool`'s worker processes now, whatever they are doing (SIGTERM), and wait until they are gone."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14 on
        pool.terminate_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # before: the pool's own table
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=WORKER_START_LIMIT)


def _empty(split: Split) -> Split:
    """`split` without its examples (a view of none would still carry all of their storage)."""
    return Split(split.x[:0].clone(), split.y[:0].clone(), split.name)


def _start_worker(setup: WorkerSetup, device: str, threads: int, memory_share: float, ready: Any) -> None:
    """A worker process's start, before its first task (_take_data) brings the data."""
    global _START
    _end_with_parent()
    _START = (setup, device, threads, memory_share, ready)


def _take_data(arrays: dict[str, tuple[Any, Any]]) -> int:
    """A worker process's first task: its Worker, with the examples of each split in `arrays` (by field) on
    the device; then wait until the pool's other worker processes have theirs (none takes two). Its pid."""
    global _WORKER
    assert _START is not None, "the worker process did not start"
    setup, device, threads, memory_share, ready = _START
    data = setup.data  # its splits empty

    def split(field: str) -> Split:
        x, y = arrays[field]
        return Split(torch.from_numpy(x), torch.from_numpy(y), getattr(data, field).name)

    setup = replace(setup, data=replace(data, train=split("train"), val=split("val"), test=split("test")))
    _WORKER = Worker(setup, device, threads, memory_share)
    ready.wait(timeout=WORKER_START_LIMIT)
    return os.getpid()


def _end_with_parent() -> None:
    """End this worker process as soon as the process that started it is gone, however it went
    (SIGKILL, the OOM killer): no more work would come, and the worker waited for it for ever,
    holding the dataset (and on a GPU, its memory); each killed search left K of them behind."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not started by multiprocessing
        return

    def watch() -> None:
        parent.join()  # until its end of the pipe it started this process through is closed
        os._exit(1)

    threading.Thread(target=watch, name="nas-pattern: ends with its search", daemon=True).start()


def _run_in_worker(child: Child) -> Outcome:
    assert _WORKER is not None, "the worker process did not start"
    return _WORKER.run(child)


# --8<-- [start:ray_executor]
class RayExecutor(Executor):
    """Children on long-lived Ray actors, each a Worker holding the dataset on its device.

    `address` joins a running cluster ("auto", or "ray://host:port"); None starts a Ray
    instance sized to this machine. `gpus_per_child` (0.25: four children share a GPU) defaults
    to 1 when the cluster has GPUs and 0 (children on CPUs) when it has none. An actor that dies
    is replaced by a new one and its child tried once more there; a child that loses its worker
    twice is recorded as failed, and one that gets no answer for --child-timeout plus
    RESTART_GRACE seconds (a lost node) as a timeout.
    """

    def __init__(self, address: str | None = None, gpus_per_child: float | None = None,
                 cpus_per_child: float = 1.0, max_workers: int | None = None):
        if gpus_per_child is not None and not valid_gpu_share(gpus_per_child):
            raise ValueError(f"--gpus-per-child must be 0, a fraction in (0, 1] or a whole number, "
                             f"got {gpus_per_child:g}")
        if not cpus_per_child > 0:
            raise ValueError(f"cpus per child must be > 0, got {cpus_per_child}")
        problem = None if address is None else ray_address_problem(address)
        if problem:  # here, not when Ray starts: a Ray this process runs already is joined unchecked
            raise ValueError(f"--ray-address {problem}")
        self.address = address
        self.gpus_per_child = gpus_per_child
        self.cpus_per_child = cpus_per_child
        self.max_workers = max_workers
        self.actors: list[Any] = []
        self._started_ray = False
        self._summary = ""
        self._remote: Any = None  # the actor class, with its resources
        self._args: tuple[Any, ...] = ()  # what every actor is created with
        self._child_timeout: float | None = None
        self._next_done = False  # whether the outcome run() gives next is here already

    def start(self, worker: Worker) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            init_ray(self.address)
            self._started_ray = True
        resources = ray.cluster_resources()
        gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 0.0)
        share = (1.0 if gpus else 0.0) if self.gpus_per_child is None else self.gpus_per_child
        if share > gpus:
            self.close()
            raise ValueError(f"--gpus-per-child {share:g} needs a GPU, and the Ray cluster has "
                             f"{gpus:g}; leave it out to train the children on CPUs")
        slots = int(gpus / share + 1e-9) if share else int(cpus / self.cpus_per_child + 1e-9)
        count = max(1, min(slots, self.max_workers or slots))
        threads = max(1, int(self.cpus_per_child)) if not share else None
        remote = ray.remote(Worker).options(num_cpus=self.cpus_per_child if not share else 0, num_gpus=share)
        # as loaded (a no-op), unless handed over on a GPU
        data = dataset_on(worker.setup.data, torch.device("cpu"))
        self._remote = remote
        # On CPUs, each actor's children may take its part of its node's memory (memory_bound): the
        # part of the smallest node's CPUs it is given
        node_cpus = min((node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node.get("Alive")), default=cpus)
        memory_share = MEMORY_SHARE * min(1.0, self.cpus_per_child / node_cpus) if node_cpus > 0 else MEMORY_SHARE
        self._args = (ray.put(replace(worker.setup, data=data)), "cuda" if share else "cpu", threads, memory_share)
        self._child_timeout = worker.setup.config.child_timeout
        self.actors = [remote.remote(*self._args) for _ in range(count)]
        each = f"{share:g} GPU each" if share else f"{self.cpus_per_child:g} CPU each"
        self._wait_until_ready(count, each)
        self._summary = f"{count} Ray worker(s), {each} ({self.address or 'a local Ray instance'})"

    def run(self, children: Sequence[Child]) -> Generator[Outcome, None, None]:
        ray = _import_ray()
        done: dict[int, Outcome] = {}  # index in `children` -> outcome
        # ObjectRef -> (index, actor, start, attempt)
        running: dict[Any, tuple[int, Any, float, int]] = {}
        free = list(self.actors)
        waiting = [(index, 1) for index in range(len(children))]
        limit = None if self._child_timeout is None else self._child_timeout + RESTART_GRACE
        next_out = 0
        while next_out < len(children):
            while free and waiting:
                (index, attempt), actor = waiting.pop(0), free.pop(0)
                running[actor.run.remote(children[index])] = (index, actor, time.monotonic(), attempt)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                index, actor, _start, attempt = running.pop(ref)
                try:
                    done[index] = ray.get(ref)
                    free.append(actor)
                except ray.exceptions.RayActorError as err:  # its process or node died: a new worker
                    free.insert(0, self._replace(actor))
                    if attempt == 1:  # tries it once more
                        waiting.insert(0, (index, 2))
                    else:
                        done[index] = Outcome("error", "its Ray worker died twice while training it: "
                                              f"{type(err).__name__}: {first_line(err)}")
                except Exception as err:  # Ray could not run the task at all: no use trying again
                    done[index] = Outcome("error", f"Ray could not run it: {type(err).__name__}: {first_line(err)}")
                    free.append(actor)
            for ref, (index, actor, started, _attempt) in list(running.items()):
                if limit is not None and time.monotonic() - started > limit:  # lost without a word
                    del running[ref]
                    done[index] = Outcome("timeout", f"no answer from its Ray worker in {limit:.0f} s")
                    free.append(self._replace(actor))
            while next_out in done:
                self._next_done = next_out + 1 in done
                try:
                    yield done.pop(next_out)
                finally:
                    self._next_done = False
                next_out += 1

    def ready(self) -> bool:
        # what has come back already: a child whose answer is on its way is not waited for
        return self._next_done

    def test(self, child: Child, final_epochs: int = 0, weights: dict[str, Any] | None = None,
             resume: dict[str, Any] | None = None, on_epoch: Callable[[Epoch], None] | None = None) -> Outcome:
        ray = _import_ray()
        actor = self.actors[0]
        try:
            return self._test_on(actor, child, final_epochs, weights, resume, on_epoch)
        except ray.exceptions.RayError:  # that worker is gone: another one does it (what on_epoch raises is not)
            return self._test_on(self._replace(actor), child, final_epochs, weights, resume, on_epoch)

    def _test_on(self, actor: Any, child: Child, final_epochs: int, weights: dict[str, Any] | None,
                 resume: dict[str, Any] | None, on_epoch: Callable[[Epoch], None] | None) -> Outcome:
        """test() on `actor`: each epoch of the final retraining comes back through a Ray queue
        (put as the worker finishes it, its state with it) to `on_epoch`, here, while it trains."""
        ray = _import_ray()
        if on_epoch is None or final_epochs == 0:
            outcome: Outcome = ray.get(actor.test.remote(child, final_epochs, weights, resume))
            return outcome
        from ray.util.queue import Queue

        queue = Queue(actor_options={"num_cpus": 0})  # beside workers that take every CPU
        try:
            ref = actor.test.remote(child, final_epochs, weights, resume, _SendEpoch(queue))
            while True:
                finished = bool(ray.wait([ref], timeout=0.2)[0])
                while not queue.empty():  # each epoch put before the test ended is here by now
                    number, loss, state = queue.get()
                    on_epoch(Epoch(number, loss, state.copy))
                if finished:
                    outcome = ray.get(ref)
                    return outcome
        finally:
            queue.shutdown()

    def describe(self) -> str:
        return self._summary

    def close(self) -> None:
        if not self.actors and not self._started_ray:
            return
        ray = _import_ray()
        for actor in self.actors:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor)
        self.actors = []
        if self._started_ray:  # a Ray instance someone else started is theirs to shut down
            ray.shutdown()
            self._started_ray = False

    # --8<-- [end:ray_executor]
    def _wait_until_ready(self, count: int, each: str) -> None:
        """Until every actor holds the data on its device; ValueError (and nothing left running) if
        one fails to start or the cluster cannot place them all in WORKER_START_LIMIT seconds."""
        ray = _import_ray()
        refs = [actor.__ray_ready__.remote() for actor in self.actors]
        ready, pending = ray.wait(refs, num_returns=len(refs), timeout=WORKER_START_LIMIT)
        try:
            if pending:
                raise ValueError(f"the Ray cluster placed {len(ready)} of {count} workers ({each}) in "
                                 f"{WORKER_START_LIMIT:.0f} s; is it busy, or smaller than it says?")
            ray.get(ready)
        except Exception as err:
            self.close()
            if isinstance(err, ValueError):
                raise
            raise ValueError(f"a Ray worker failed to start: {type(err).__name__}: {first_line(err)}") from None

    def _replace(self, actor: Any) -> Any:
        """A new actor in place of one that died or hangs (the old one is killed, if it still lives)."""
        ray = _import_ray()
        with contextlib.suppress(Exception):  # already gone
            ray.kill(actor, no_restart=True)
        fresh = self._remote.remote(*self._args)
        self.actors[self.actors.index(actor)] = fresh
        return fresh


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at `address`, or start a local instance (of `num_cpus`; default: this
    machine's) whose workers import what this process can import. ValueError if Ray cannot start.

    A process that says how it stops on SIGTERM (a Python handler: the CLI's stops as on Ctrl-C) goes
    on stopping so once Ray has started, and while it starts: ray.init() puts its own handlers in
    its place, a sys.exit(SIGTERM) and, once its core worker runs, one that prints a stack dump."""
    ray = _import_ray()
    if address not in (None, "auto") and "://" not in address:  # host:port of a head node's GCS: Ray
        _check_reachable(address)  # itself would wait for it for ever
    # (In another thread, a gateway's, Ray sets no handler, and none can be set.)
    caller = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
        else:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except SystemExit as exit_:  # SIGTERM as Ray started, through the handler it had set by then
        if exit_.code != signal.SIGTERM or not callable(caller):
            raise
        ray.shutdown()  # what it had started goes
        caller(signal.SIGTERM, None)  # and this process stops as it said (the CLI: KeyboardInterrupt)
        raise
    except Exception as err:  # ConnectionError, RuntimeError, ValueError, depending on how it fails
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ValueError(f"cannot start Ray ({where}): {type(err).__name__}: {first_line(err)}") from None
    finally:
        if callable(caller):
            signal.signal(signal.SIGTERM, caller)


def ray_address_problem(address: str) -> str | None:
    """What is wrong with `address` as a --ray-address (auto, ray://host:port or host:port), or None."""
    if address == "auto" or "://" in address:
        return None
    host, _, port = address.rpartition(":")
    return None if host and port.isdigit() else f"{address!r} is not auto, ray://host:port or host:port"


def _check_reachable(address: str) -> None:
    problem = ray_address_problem(address)
    if problem:
        raise ValueError(f"--ray-address {problem}")
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as err:
        raise ValueError(f"cannot start Ray (the Ray cluster at {address}): nothing answers there ({err})") from None


def valid_gpu_share(share: float) -> bool:
    """0 (CPU), a fraction of one GPU, or whole GPUs: what Ray can schedule."""
    return share == 0 or 0 < share <= 1 or (float(share).is_integer() and share > 0)



def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError("--executor ray needs Ray: pip install ray (or 'nas-pattern[ray]')") from None
    return ray

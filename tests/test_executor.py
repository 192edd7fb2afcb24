"""Executors: Ray runs the same search as the local executor, survives a worker that dies, and
a search stopped in the middle of an update resumes to the uninterrupted result with either."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers import SMALL_CNN, MatchTarget, blank_dataset, cli, gone, in_group, make_match_target, worker_memory_share
from nas_pattern import CNN, Dataset, NASController, SearchConfig, TrainConfig
from nas_pattern.agents import AgentConfig, EvolutionConfig, RLAgent, make_agent
from nas_pattern.bench.common import TABLE_PATH
from nas_pattern.config import new_config
from nas_pattern.data import Split
from nas_pattern.executor import Executor, LocalExecutor, RayExecutor, init_ray
from nas_pattern.files import sigterm_as_interrupt
from nas_pattern.memory import MEMORY_SHARE
from nas_pattern.networks import CNN_SPACE
from nas_pattern.networks.tabular import TabularNetwork
from nas_pattern.records import Child, Episode
from nas_pattern.run_dir import Recorder, RunDirectory
from nas_pattern.session import args_from_json
from nas_pattern.table import Table
from nas_pattern.worker import Worker, WorkerSetup

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray instance of 2 CPUs for the tests of this module (starting one takes seconds)."""
    import ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def table() -> Table:
    return Table.load(TABLE_PATH)


def tabular_search(table: Table, agent: str, executor: Executor, episodes: int = 24, seed: int = 3,
                   stop_at: int | None = None, recorder_dir: Path | None = None,
                   restore: tuple[list[Episode], dict[str, Any] | None] | None = None,
                   repeats: bool = False) -> NASController:
    """A search over the committed table: deterministic children, so runs can be compared exactly
    (with `repeats`, evolution samples with replacement, and the cache answers its repeats)."""
    evolution = EvolutionConfig(population_size=8, tournament_size=3, without_replacement=not repeats)
    config = AgentConfig(children_per_update=4, seed=seed, evolution=evolution)
    controller = NASController(make_agent(agent, table.space, config), table.dataset(),
                               network=functools.partial(TabularNetwork, table=table),
                               config=SearchConfig(episodes=episodes, stop_entropy=0.0, seed=seed), executor=executor)
    try:
        if restore is not None:
            controller.restore(*restore)
        recorder = None
        if recorder_dir is not None:
            run_dir = RunDirectory(recorder_dir)
            run_dir.create({})
            recorder = Recorder(run_dir, controller)
        if stop_at is not None:
            controller.add_callback(lambda e: controller.stop() if e.episode == stop_at else None)
        controller.search()
        if recorder is not None:
            recorder.interrupted()
    finally:
        controller.executor.close()
    return controller


def key(e: Episode) -> tuple[Any, ...]:
    """Everything about an episode but its wall time."""
    return (e.episode, e.architecture, e.status, e.reason, e.metrics, e.reward, e.baseline, e.cached, e.update)


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["reinforce", "evolution"])
def test_ray_searches_exactly_what_local_searches(agent: str, table: Table, ray_cluster: None) -> None:
    repeats = agent == "evolution"  # so the cache is exercised too: the agents draw each architecture once
    local = tabular_search(table, agent, LocalExecutor(), repeats=repeats)
    remote = tabular_search(table, agent, RayExecutor(max_workers=2), repeats=repeats)
    assert [key(e) for e in remote.history] == [key(e) for e in local.history]
    assert len(remote.history) == 24
    assert any(e.cached for e in local.history) == repeats


@pytest.mark.slow
def test_a_ray_worker_s_final_retraining_sends_each_epoch_back_and_goes_on_from_a_kept_one(
        small_fashion: Dataset, ray_cluster: None) -> None:
    """The final retraining runs on a Ray worker, elsewhere: its epochs reached neither the progress
    lines nor final-training.pt, so a stop there retrained it from its first epoch."""
    architecture = CNN_SPACE.parse({"layers": [
        {"filters": 8, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.25},
        {"filters": 8, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.0}]})
    setup = WorkerSetup(network=CNN, space=CNN_SPACE, data=small_fashion, config=SearchConfig(train_limit=300),
                        train_config=TrainConfig(precision="fp32"))
    executor = RayExecutor(max_workers=1)
    executor.start(Worker(setup))
    try:
        sent: list[tuple[int, float, dict[str, Any]]] = []
        child = Child(1, architecture)
        whole = executor.test(child, 3, on_epoch=lambda epoch: sent.append((epoch.number, epoch.loss, epoch.state())))
        assert [number for number, _, _ in sent] == [1, 2, 3] and all(loss > 0 for _, loss, _ in sent)
        assert [state["epochs"] for _, _, state in sent] == [1, 2, 3]  # each as its epoch ended, not as it went on
        again = executor.test(child, 3, resume=sent[0][2])  # a stop after the first epoch, then a resume
        calls = []

        def disk_full(epoch) -> None:
            calls.append(epoch.number)
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError, match="No space left"):  # what keeping an epoch raises is not a lost worker:
            executor.test(child, 3, on_epoch=disk_full)
        assert calls == [1]  # no second worker retrained it
    finally:
        executor.close()
    assert whole.status == again.status == "ok" and whole.weights is not None and again.weights is not None
    assert all(torch.equal(whole.weights[k], again.weights[k]) for k in whole.weights)  # the same worker's arithmetic
    assert again.metrics is not None and whole.metrics is not None
    assert (again.metrics.accuracy, again.metrics.loss) == (whole.metrics.accuracy, whole.metrics.loss)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_search_stopped_mid_update_resumes_to_the_uninterrupted_result(executor: str, table: Table,
                                                                         tmp_path: Path, ray_cluster: None) -> None:
    """Evolution samples each update's children from the population of its start, so a resume
    that did not start the interrupted update over would sample other children."""
    whole = tabular_search(table, "evolution", LocalExecutor())
    tabular_search(table, "evolution", LocalExecutor(), stop_at=10, recorder_dir=tmp_path)  # 10 = 2 of update 3
    run_dir = RunDirectory(tmp_path)
    records, _ = run_dir.read_episodes(table.space)
    checkpoint = run_dir.read_checkpoint()
    assert len(records) == 10 and checkpoint is not None and checkpoint["episodes"] == 8
    resumed = tabular_search(table, "evolution", LocalExecutor() if executor == "local" else RayExecutor(max_workers=2),
                             restore=(records, checkpoint))
    assert [key(e) for e in resumed.history] == [key(e) for e in whole.history]


def dying(base: type[MatchTarget], victim_seed: int, marker: Path | None) -> type[MatchTarget]:
    """A child class whose child of seed `victim_seed` kills the process training it: once, if
    `marker` is given (the file it leaves behind spares the retry), else every time."""
    def train(self: MatchTarget, data: Split, epochs: int) -> None:
        if self.seed == victim_seed and (marker is None or not marker.exists()):
            if marker is not None:
                marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)

    return type("Dying", (base,), {"train": train})


@pytest.mark.slow
@pytest.mark.parametrize("once", [True, False])
def test_a_worker_killed_mid_child_is_replaced_and_the_search_finishes(once: bool, tmp_path: Path,
                                                                       ray_cluster: None) -> None:
    target = CNN_SPACE.decode([1] * len(CNN_SPACE.num_choices))
    network = dying(make_match_target(CNN_SPACE, target), victim_seed=2, marker=tmp_path / "died" if once else None)
    config = SearchConfig(episodes=8, seed=0)
    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=4)), blank_dataset(), network=network,
                               config=config, executor=RayExecutor(max_workers=2))
    try:
        result = controller.search()
    finally:
        controller.executor.close()
    assert len(result.episodes) == 8
    victim = result.episodes[1]  # episode 2: seed 0 * 100003 + 2
    if once:
        assert (tmp_path / "died").exists()  # it did die, and the second try succeeded
        assert all(e.status == "ok" for e in result.episodes)
    else:
        assert victim.status == "error" and "died twice" in victim.reason
        assert all(e.status == "ok" for e in result.episodes if e.architecture != victim.architecture)


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["reinforce", "evolution"])
def test_children_at_once_search_exactly_what_one_at_a_time_searches(agent: str, table: Table) -> None:
    """K worker processes of the local executor: the same children, rewarded in the order sampled."""
    one = tabular_search(table, agent, LocalExecutor())
    two = tabular_search(table, agent, LocalExecutor(children_at_once=2))
    assert [key(e) for e in two.history] == [key(e) for e in one.history]
    assert len(two.history) == 24


@pytest.mark.slow
def test_a_worker_process_trains_a_cnn_child_as_the_controllers_process_does(small_fashion: Dataset) -> None:
    """The images reach a worker process through a pickle, which gave their one channel another
    stride; a 1x1 convolution chose its output's layout by it and dropout's masks followed, so this
    child, episode 3 of `run --children-at-once 2 --train-limit 300`, scored 0.578 in a worker
    process and 0.597 in the controller's."""
    architecture = CNN_SPACE.parse({"layers": [
        {"filters": 64, "kernel_size": 1, "pool_size": 1, "dropout_rate": 0.25},
        {"filters": 16, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.5}]})
    setup = WorkerSetup(network=CNN, space=CNN_SPACE, data=small_fashion, config=SearchConfig(train_limit=300),
                        train_config=TrainConfig(precision="fp32"))  # not chosen per thread count
    children = [Child(3, architecture), Child(4, architecture)]
    here, there = LocalExecutor(), LocalExecutor(children_at_once=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each worker process has: float sums then add up in the same order
    try:
        for executor in (here, there):
            executor.start(Worker(setup))
        outcomes = list(here.run(children)), list(there.run(children))
        assert there._pool is not None  # each of the two may take half of what one would (memory_bound)
        assert there._pool.submit(worker_memory_share).result() == MEMORY_SHARE / 2
    finally:
        there.close()
        torch.set_num_threads(threads)
    for ours, theirs in zip(*outcomes, strict=True):
        assert ours.status == theirs.status == "ok"
        assert ours.metrics and theirs.metrics
        assert (ours.metrics.accuracy, ours.metrics.loss) == (theirs.metrics.accuracy, theirs.metrics.loss)
        assert all(torch.equal(ours.weights[name], theirs.weights[name]) for name in ours.weights)


class KilledOnce(TabularNetwork):
    """A tabular child whose episode 6 kills the worker process training it."""

    def train(self, data: Split, epochs: int) -> None:
        if self.seed == 3 * 100003 + 6:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_a_worker_process_killed_mid_child_is_replaced_and_the_search_finishes(table: Table) -> None:
    controller = NASController(RLAgent(table.space, AgentConfig(children_per_update=4, seed=3)), table.dataset(),
                               network=functools.partial(KilledOnce, table=table),
                               config=SearchConfig(episodes=12, stop_entropy=0.0, seed=3),
                               executor=LocalExecutor(children_at_once=2))
    try:
        result = controller.search()
    finally:
        controller.executor.close()
    assert len(result.episodes) == 12
    failed = [e for e in result.episodes if e.status != "ok"]
    assert failed and all(e.status == "error" and "worker process died" in e.reason for e in failed)
    assert result.episodes[5] in failed  # episode 6 (a child beside it may have been lost with it)
    assert all(e.status == "ok" for e in result.episodes[8:])  # the next update's, on a new pool


class SlowAtFirst(TabularNetwork):
    """A tabular child that trains for two minutes in episodes 1 and 2 of a search seeded 3."""

    def train(self, data: Split, epochs: int) -> None:
        if self.seed in (3 * 100003 + 1, 3 * 100003 + 2):
            time.sleep(120)


@pytest.mark.slow
def test_a_stop_abandons_the_children_the_worker_processes_train_as_one_at_a_time_does(table: Table) -> None:
    """Ctrl-C or SIGTERM abandon the child in progress; with K at once, the search waited for the
    K children to finish training (minutes with real children), then threw them away."""
    setup = WorkerSetup(network=functools.partial(SlowAtFirst, table=table), space=table.space,
                        data=table.dataset(), config=SearchConfig(seed=3), train_config=TrainConfig())
    executor = LocalExecutor(children_at_once=2)
    executor.start(Worker(setup))
    architectures = list(table.space)[:4]
    main = threading.main_thread().ident
    assert main is not None
    # SIGTERM as they train, taken as the CLI takes it (not SIGINT, which a shell's background job
    # such as a CI run ignores, and its processes with it)
    stop = threading.Timer(2.0, signal.pthread_kill, (main, signal.SIGTERM))
    try:
        start = time.monotonic()
        with sigterm_as_interrupt(), pytest.raises(KeyboardInterrupt):
            stop.start()
            list(executor.run([Child(1, architectures[0]), Child(2, architectures[1])]))
        executor.close()
        assert time.monotonic() - start < 60  # not the two minutes they train
        assert executor._pool is None  # its worker processes are gone; the next children get new ones
        outcomes = list(executor.run([Child(3, architectures[2]), Child(4, architectures[3])]))
        assert [outcome.status for outcome in outcomes] == ["ok", "ok"]
    finally:
        stop.cancel()
        executor.close()


def tabular_setup(table: Table) -> WorkerSetup:
    """Children from the table, with 20,000 training images (unused) that each worker process holds."""
    images = Split(torch.zeros(20_000, 1, 28, 28), torch.zeros(20_000, dtype=torch.long), "train")
    return WorkerSetup(network=functools.partial(TabularNetwork, table=table), space=table.space,
                       data=dataclasses.replace(table.dataset(), train=images), config=SearchConfig(seed=3),
                       train_config=TrainConfig())


@pytest.mark.slow
def test_the_k_worker_processes_are_all_started_before_the_search(table: Table) -> None:
    """Each worker process's start waited until it had imported torch and read the data, one after
    the other, and by then the first ones were idle and took the later starting tasks: the rest
    started during the search, where a failure to start is no longer one clear error."""
    executor = LocalExecutor(children_at_once=3)
    try:
        executor.start(Worker(tabular_setup(table)))
        assert executor._pool is not None and len(executor._pool._processes) == 3  # type: ignore[attr-defined]
        children = [Child(number, architecture) for number, architecture in enumerate(list(table.space)[:6], 1)]
        assert [outcome.status for outcome in executor.run(children)] == ["ok"] * 6
        assert len(executor._pool._processes) == 3  # type: ignore[attr-defined]  # no more were needed
    finally:
        executor.close()


@pytest.mark.slow
def test_the_executor_says_whether_the_next_outcome_is_done_so_a_search_past_its_limit_keeps_it(table: Table) -> None:
    """Past its time limit a search records the rest of the round only as far as it is done
    (NASController._update_round): with K at once a child trained beside the one just taken is."""
    children = [Child(number, architecture) for number, architecture in enumerate(list(table.space)[:3], 1)]
    executor = LocalExecutor(children_at_once=2)
    try:
        executor.start(Worker(tabular_setup(table)))
        outcomes = executor.run(children)
        assert next(outcomes).status == "ok"
        deadline = time.monotonic() + 120
        while not executor.ready():  # child 2, beside child 1: done at once, or in a moment
            assert time.monotonic() < deadline, "the child trained beside the first is never done"
            time.sleep(0.01)
        assert [outcome.status for outcome in outcomes] == ["ok", "ok"]
        assert not executor.ready()  # the round is over: nothing comes next
    finally:
        executor.close()
    one = LocalExecutor()
    one.start(Worker(tabular_setup(table)))
    outcomes = one.run(children)
    assert next(outcomes).status == "ok"
    assert not one.ready()  # one at a time, the next child has not started
    outcomes.close()


def take_data_but_once(arrays: dict) -> int:
    """LocalExecutor's first task of a worker process, which fails in the first worker to take it (as
    the data's third copy on a GPU might run out of its memory)."""
    import nas_pattern.executor

    try:
        os.close(os.open(os.environ["NAS_PATTERN_TEST_FAILED_ONCE"], os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return nas_pattern.executor._take_data(arrays)
    raise RuntimeError("CUDA out of memory")


@pytest.mark.slow
def test_a_worker_process_that_cannot_start_is_one_clear_error_at_once(table: Table, tmp_path: Path,
                                                                      monkeypatch) -> None:
    """The others, which wait until all have the data, stop waiting (not WORKER_START_LIMIT)."""
    import nas_pattern.executor

    monkeypatch.setattr(nas_pattern.executor, "_take_data", take_data_but_once)
    monkeypatch.setenv("NAS_PATTERN_TEST_FAILED_ONCE", str(tmp_path / "failed"))
    executor = LocalExecutor(children_at_once=3)
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"^--children-at-once 3: a worker process failed to start: "
                                         r"RuntimeError: CUDA out of memory$"):
        executor.start(Worker(tabular_setup(table)))
    assert time.monotonic() - start < nas_pattern.executor.WORKER_START_LIMIT / 3
    assert executor._pool is None


# The CLI with SIGINT at its default (a shell's background job, as a CI run is, ignores it, and the
# processes it starts ignore it too), searching two children at once
AT_ONCE = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
           "os.execv(sys.executable, [sys.executable, '-m', 'nas_pattern.run', *sys.argv[1:]])",
           "--children-at-once", "2", "--children-per-update", "2", "--episodes", "8", "--space", SMALL_CNN,
           "--train-limit", "5000", "--no-tensorboard"]


def started(process: subprocess.Popen) -> str:
    """What the search printed up to its budget's line (its worker processes are up by then)."""
    assert process.stdout is not None
    lines = []
    while not (lines and lines[-1].startswith("Budget:")):
        line = process.stdout.readline()
        assert line, f"the search ended before its first child: {''.join(lines)}"
        lines.append(line)
    return "".join(lines)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the processes from /proc")
def test_ctrl_c_at_a_terminal_stops_the_children_at_once_in_one_line(tmp_path: Path) -> None:
    """A terminal's Ctrl-C is sent to every process of its group: each worker process also raised
    KeyboardInterrupt and printed a traceback, deep in torch, beside the search's one line."""
    search = subprocess.Popen([*AT_ONCE, "--run-dir", str(tmp_path / "run")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    try:
        started(search)
        assert len(in_group(search.pid)) >= 3  # the search and its two workers
        os.killpg(search.pid, signal.SIGINT)
        _, err = search.communicate(timeout=120)
        # 130, or its SIGINT again where it came while a dataclass was being made: CPython then
        # marks a KeyboardInterrupt unhandled (exec() of a string), even one caught, and ends so
        # at exit; either is 130 to a shell
        assert search.returncode in (130, -signal.SIGINT), err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert err.strip().startswith("nas-pattern: interrupted;"), err
        assert gone(search.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(search.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the processes from /proc")
def test_the_worker_processes_end_with_a_search_that_is_killed(tmp_path: Path) -> None:
    """SIGKILL (the OOM killer, kill -9) gives the search no time to stop its worker processes: they
    waited for work for ever, each holding the dataset (1.2 GB each with Fashion-MNIST, and on a GPU
    its memory), K more with each search killed and resumed."""
    search = subprocess.Popen([*AT_ONCE, "--run-dir", str(tmp_path / "run")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    try:
        started(search)
        assert len(in_group(search.pid)) >= 3
        search.kill()  # the search's own process, not its group
        search.communicate(timeout=60)
        assert gone(search.pid), f"left running: {in_group(search.pid)}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(search.pid, signal.SIGKILL)


def test_the_header_says_how_many_threads_each_worker_process_has(monkeypatch) -> None:
    """It said "cpu, 2 children at once, ..." where one at a time says "CPU (2 threads)"."""
    executor = LocalExecutor(children_at_once=2)
    executor.worker = types.SimpleNamespace(device=torch.device("cpu"))  # type: ignore[assignment]
    for threads, each in ((2, "1 thread"), (4, "2 threads"), (1, "1 thread")):
        monkeypatch.setattr(torch, "get_num_threads", lambda threads=threads: threads)
        assert executor.describe() == f"CPU ({each} each), 2 children at once, each in a worker process of its own"


def test_the_local_executor_refuses_zero_children_at_once() -> None:
    with pytest.raises(ValueError, match="children at once must be >= 1, got 0"):
        LocalExecutor(children_at_once=0)


class SlowFirst(TabularNetwork):
    """A tabular child that trains for 3 s in episode 1 of a search seeded 3, the others at once."""

    def train(self, data: Split, epochs: int) -> None:
        if self.seed == 3 * 100003 + 1:
            time.sleep(3)


@pytest.mark.slow
def test_a_ray_executor_says_the_next_outcome_is_done_when_it_came_back_before(table: Table, ray_cluster: None) -> None:
    """Past its time limit a search records the rest of the round only as far as it is done: with
    Ray, as far as the answers that came back while it waited for the one it took."""
    setup = WorkerSetup(functools.partial(SlowFirst, table=table), table.space, table.dataset(), SearchConfig(seed=3),
                        TrainConfig())
    executor = RayExecutor(max_workers=2)
    try:
        executor.start(Worker(setup))
        outcomes = executor.run([Child(number, a) for number, a in enumerate(list(table.space)[:3], 1)])
        assert next(outcomes).status == "ok"
        assert executor.ready()  # children 2 and 3 came back while the first trained
        assert next(outcomes).status == "ok" and executor.ready()
        assert next(outcomes).status == "ok" and not executor.ready()  # the round is over
        assert list(outcomes) == []
    finally:
        executor.close()


def test_the_training_configuration_reaches_every_ray_worker(table: Table, ray_cluster: None) -> None:
    """What every Ray actor is built from holds the controller's TrainConfig (CUDA graphs off here),
    and each actor on CPUs its part of the node's memory."""
    import ray

    from nas_pattern.trainer import TrainConfig
    from nas_pattern.worker import Worker, WorkerSetup

    config = TrainConfig(batch_size=256, cuda_graphs=False, deterministic=True)
    setup = WorkerSetup(functools.partial(TabularNetwork, table=table), table.space, table.dataset(),
                        SearchConfig(episodes=1), config)
    executor = RayExecutor(max_workers=1)
    try:
        executor.start(Worker(setup))
        assert ray.get(executor._args[0]).train_config == config
        # each of the 2 CPUs' actors may take half of what one process would (memory_bound)
        assert ray.get(executor.actors[0].__ray_call__.remote(lambda worker: worker.memory_share)) == MEMORY_SHARE / 2
    finally:
        executor.close()


@pytest.mark.slow
def test_the_cli_with_ray_writes_the_same_record_as_local(tmp_path: Path) -> None:
    """Same seed, same architectures and the same kind of run directory; the accuracies agree to
    within what a different CPU thread count changes in floating point."""
    runs = {}
    for executor in ("local", "ray"):
        run_dir = tmp_path / executor
        done = subprocess.run([sys.executable, "-m", "nas_pattern.run", "--executor", executor, "--space", SMALL_CNN,
                               "--episodes", "4", "--children-per-update", "2", "--train-limit", "500", "--run-dir",
                               str(run_dir)],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        runs[executor] = run_dir
        assert "Testing the best architecture" in done.stdout
    assert "2 Ray worker(s), 1 CPU each" in done.stdout
    local, ray = ([json.loads(line) for line in (runs[x] / "episodes.jsonl").read_text().splitlines()]
                  for x in ("local", "ray"))
    assert sorted(p.name for p in runs["ray"].iterdir()) == sorted(p.name for p in runs["local"].iterdir())
    assert [e["architecture"] for e in ray] == [e["architecture"] for e in local]
    assert [e.keys() for e in ray] == [e.keys() for e in local]
    for a, b in zip(ray, local, strict=True):
        assert a["metrics"]["accuracy"] == pytest.approx(b["metrics"]["accuracy"], abs=0.02)
    summary = json.loads((runs["ray"] / "summary.json").read_text())
    assert summary["config"]["executor"] == "ray" and summary["test_accuracy"] > 0.3
    # The Ray workers sent the best child's weights back: best.pt reproduces what the search recorded.
    from nas_pattern import load_dataset, load_model

    model = load_model(runs["ray"])
    assert model.card.episode == summary["best"]["episode"]
    assert model.evaluate(load_dataset("fashion-mnist").test).accuracy == pytest.approx(summary["test_accuracy"],
                                                                                        abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("argv, message", [
    (["--gpus-per-child", "0.5"], "--gpus-per-child is for --executor ray"),
    (["--ray-address", "auto"], "--ray-address is for --executor ray"),
    (["--executor", "ray", "--gpus-per-child", "1.5"], "must be 0, a fraction in (0, 1] or a whole number"),
    (["--executor", "ray", "--gpus-per-child", "-1"], "must be >= 0"),
    (["--executor", "threads"], "invalid choice: 'threads'"),
    (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "cannot start Ray (the Ray cluster at 127.0.0.1:1): "
                                                             "nothing answers there"),
    (["--executor", "ray", "--ray-address", "head-node"], "is not auto, ray://host:port or host:port"),
    (["--executor", "ray", "--gpus-per-child", "0.25"], "--gpus-per-child 0.25 needs a GPU, and the Ray cluster has 0"),
    (["--executor", "ray", "--children-at-once", "2"], "--children-at-once is for the local executor; with "
                                                       "--executor ray, --gpus-per-child says"),
    (["--children-at-once", "0"], "argument --children-at-once: must be >= 1, got 0"),
    (["--children-at-once", "8", "--children-per-update", "2"], "--children-at-once 8 is more than the 2 children of "
                                                                "a policy update (--children-per-update): at most 2"),
    (["--weight-sharing", "--children-at-once", "2"], "--children-at-once trains children in worker processes; "
                                                      "--weight-sharing scores them with one supernet"),
])
def test_bad_executor_flags_get_one_line_and_exit_2_writing_nothing(argv: list[str], message: str,
                                                                    tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "run"
    if "Ray cluster" in message:  # these start Ray or reach a cluster: in a process of their own
        done = subprocess.run([sys.executable, "-m", "nas_pattern.run", *argv, "--episodes", "2", "--run-dir",
                               str(run_dir)], capture_output=True, text=True, timeout=300, cwd=ROOT)
        code, err = done.returncode, done.stderr
    else:
        code, _, err = cli([*argv, "--episodes", "2", "--run-dir", str(run_dir)], capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not run_dir.exists()


def test_a_malformed_ray_address_is_refused_when_read_whatever_ray_is_doing(monkeypatch, capsys,
                                                                          tmp_path: Path) -> None:
    """Refused before Ray is looked at: a process already running Ray (a program's second search)
    would join it and never check the address."""
    import nas_pattern.executor as executor

    monkeypatch.setattr(executor, "_import_ray", lambda: pytest.fail("Ray was reached"))
    code, _, err = cli(["--executor", "ray", "--ray-address", "head-node", "--run-dir", str(tmp_path / "r")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "argument --ray-address: 'head-node' is not auto, ray://host:port or host:port" in err
    with pytest.raises(ValueError, match="'head:x' is not auto, ray://host:port or host:port"):
        new_config(args_from_json('{"executor": "ray", "ray-address": "head:x"}'))
    with pytest.raises(ValueError, match="--ray-address 'head-node' is not auto"):
        RayExecutor(address="head-node")  # the Python API's way in
    for good in ("auto", "ray://head:10001", "10.0.0.2:6379"):
        assert new_config(args_from_json(f'{{"executor": "ray", "ray-address": "{good}"}}')).ray_address == good
    assert not (tmp_path / "r").exists()


def test_a_process_that_stops_on_sigterm_its_own_way_goes_on_so_as_ray_starts_and_once_it_has(monkeypatch) -> None:
    """ray.init() sets a SIGTERM handler of its own (sys.exit(SIGTERM)) as it starts: the CLI, whose
    handler stops a search as Ctrl-C does, ended silently with exit 15 there, or once Ray had started
    with a stack dump. The caller's handler is set again, and a SIGTERM as Ray starts reaches it."""
    import nas_pattern.executor as executor

    def rays(signum: int, frame: object) -> None:  # what ray.init() sets first
        sys.exit(signum)

    def interrupt(signum: int, frame: object) -> None:  # the CLI's (files.sigterm_as_interrupt)
        raise KeyboardInterrupt

    calls: list[str] = []

    def stopped_as_it_starts(**kwargs: Any) -> None:
        signal.signal(signal.SIGTERM, rays)
        calls.append("init")
        rays(signal.SIGTERM, None)  # a SIGTERM arrives

    ray = types.SimpleNamespace(init=stopped_as_it_starts, shutdown=lambda: calls.append("shutdown"))
    monkeypatch.setattr(executor, "_import_ray", lambda: ray)
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):  # as the caller said: the CLI's one line and exit 130
            init_ray()
        assert calls == ["init", "shutdown"]  # what Ray had started goes
        assert signal.getsignal(signal.SIGTERM) is interrupt
        ray.init = lambda **kwargs: signal.signal(signal.SIGTERM, rays)  # Ray starts
        init_ray()
        assert signal.getsignal(signal.SIGTERM) is interrupt
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a process with no handler of its own keeps Ray's
        init_ray()
        assert signal.getsignal(signal.SIGTERM) is rays
    finally:
        signal.signal(signal.SIGTERM, previous)


SIGTERM_AFTER_RAY = """
import os, signal, sys, time
from nas_pattern.executor import init_ray

def interrupt(signum, frame):
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, interrupt)
init_ray(num_cpus=1)
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(60)
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.slow
def test_sigterm_once_a_real_ray_has_started_reaches_the_process_s_own_handler() -> None:
    """Ray's core worker also puts a C++ handler on SIGTERM that prints a stack dump: replaced too."""
    done = subprocess.run([sys.executable, "-c", SIGTERM_AFTER_RAY], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 130, (done.returncode, done.stderr[-2000:])
    assert "SIGTERM received" not in done.stderr


@pytest.mark.slow
def test_the_jvm_config_has_the_executor_keys() -> None:
    config = new_config(args_from_json('{"executor": "ray", "gpus-per-child": 0.25, "ray-address": "auto"}'))
    assert (config.executor, config.gpus_per_child, config.ray_address) == ("ray", 0.25, "auto")
    with pytest.raises(ValueError, match="is for --executor ray"):
        new_config(args_from_json('{"gpus-per-child": 0.25}'))


def test_bench_search_without_ray_times_the_local_search_and_says_why(monkeypatch, capsys) -> None:
    """The GPU machines' image has no Ray: the section still times the local executor, and says
    why there are no Ray rows instead of failing."""
    from nas_pattern.bench import search
    from nas_pattern.bench.cli import main as bench
    monkeypatch.setattr(search, "ray_installed", lambda: False)
    monkeypatch.setattr(search, "init_ray", lambda *_: pytest.fail("Ray started"))
    assert bench(["search", "--device", "cpu", "--children", "2", "--train-limit", "64"]) == 0
    out = capsys.readouterr().out
    assert "search: 2 CNN children" in out and "no Ray rows: Ray is not installed here" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("  local") or line.startswith("  ray")]
    at_once = [k for k in search.SEARCH_SHARES if k <= torch.get_num_threads()]  # at once, sharing the threads
    assert [row[:2] for row in rows] == [["local", str(k)] for k in at_once] and rows[0][-2] == "1.00x"
    for named in ("ray", "local,ray"):  # asked for by name: an error, alone or beside local
        assert bench(["search", "--device", "cpu", "--executors", named]) == 2
        assert f"--executors {named}: Ray is not installed here" in capsys.readouterr().err


def test_ctrl_c_while_the_worker_processes_exit_lets_them_go_on_exiting() -> None:
    """The search is recorded and its model written when close() waits for the workers to exit; a
    Ctrl-C then (it reaches the workers too) stops the wait, not with a traceback."""
    waits = []

    class Pool:
        def shutdown(self, wait: bool, cancel_futures: bool) -> None:
            waits.append(wait)
            if wait:
                raise KeyboardInterrupt

    executor = LocalExecutor(children_at_once=2)
    executor._pool = Pool()  # type: ignore[assignment]
    executor.close()
    assert waits == [True, False] and executor._pool is None
    executor.close()  # closed: nothing more to do
    assert waits == [True, False]

"""Worker: trains a child with its episode's seed, sends back its metrics and weights, tests it."""

from __future__ import annotations

import random
import resource
from collections.abc import Callable

import pytest
import torch

from helpers import memory_with_room
from nas_pattern import CNN, CNN_SPACE, Dataset, Metrics, SearchConfig, TrainConfig, memory
from nas_pattern.records import Child, SearchFailed
from nas_pattern.search_space import SearchSpace
from nas_pattern.sharing import SharingConfig
from nas_pattern.trainer import generator
from nas_pattern.worker import Worker, WorkerSetup, child_seed

SMALL = CNN_SPACE.decode([0] * len(CNN_SPACE.num_choices))


def worker_for(data: Dataset, space: SearchSpace = CNN_SPACE) -> Worker:
    config = SearchConfig(episodes=4, train_limit=200, seed=3)
    return Worker(WorkerSetup(CNN, space, data, config, TrainConfig(precision="fp32")))


def same_model(a: Metrics, b: Metrics) -> bool:
    """The same test metrics (the train time is not the model's)."""
    return (a.accuracy, a.loss, a.params) == (b.accuracy, b.loss, b.params)


@pytest.mark.slow
def test_a_child_comes_back_with_its_metrics_and_weights_and_tests_as_trained(small_fashion: Dataset) -> None:
    worker = worker_for(small_fashion)
    outcome = worker.run(Child(2, SMALL))
    assert outcome.status == "ok" and outcome.metrics is not None and outcome.weights is not None
    assert worker.network is not None and worker.network.seed == child_seed(3, 2)
    trained = worker.network.evaluate(small_fashion.test)
    assert trained.train_seconds > 0
    # tested elsewhere with the weights sent back: the same model, as another worker would test it
    tested = worker_for(small_fashion).test(Child(2, SMALL), weights=outcome.weights)
    assert tested.metrics is not None and same_model(tested.metrics, trained)
    # without them (a resume after a restart): trained again from the episode's seed, the same on the CPU
    again = worker_for(small_fashion).test(Child(2, SMALL)).metrics
    assert again is not None and same_model(again, trained)
    assert all(torch.equal(tested.weights[k], outcome.weights[k]) for k in outcome.weights)  # type: ignore[index]


def test_a_child_outside_the_space_is_invalid_and_never_trained(small_fashion: Dataset) -> None:
    narrow = SearchSpace.from_json({"max_layers": 2, "decisions": [
        {"name": "filters", "choices": [16]}, {"name": "kernel_size", "choices": [1]},
        {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [0.0]}]})
    outcome = worker_for(small_fashion, narrow).run(Child(1, SMALL))
    assert outcome.status == "invalid" and outcome.weights is None
    assert "cannot build" in outcome.reason and "filters=8 is not one of [16]" in outcome.reason


def _cuda_out_of_memory() -> None:
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def _cpu_out_of_memory() -> None:
    torch.empty(2 ** 60, dtype=torch.uint8)  # PyTorch's own CPU allocator refuses an exabyte: a RuntimeError


@pytest.mark.parametrize(("fail", "reason"), [(_cuda_out_of_memory, "OutOfMemoryError: CUDA out of memory"),
                                              (_cpu_out_of_memory, "RuntimeError: [enforce fail at"),
                                              (lambda: [0] * 2 ** 62, "MemoryError")])
def test_a_failure_is_returned_as_its_kind_never_raised(fail: Callable[[], object], reason: str,
                                                         small_fashion: Dataset,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    worker = worker_for(small_fashion)
    monkeypatch.setattr(CNN, "train", lambda *args: fail())
    outcome = worker.run(Child(1, SMALL))
    assert outcome.status == "oom" and outcome.reason.startswith(reason), outcome.reason
    assert worker.network is None  # let go of


def test_any_integer_seeds_the_children_and_the_seeds_that_ran_before_give_the_same_numbers(
        small_fashion: Dataset) -> None:
    config = SearchConfig(episodes=4, train_limit=200, seed=10**20)  # its children's seeds are past 2**64
    worker = Worker(WorkerSetup(CNN, CNN_SPACE, small_fashion, config, TrainConfig(precision="fp32")))
    outcome = worker.run(Child(2, SMALL))
    assert outcome.status == "ok", outcome.reason  # was: error, "Overflow when unpacking long long"
    for seed in (child_seed(-1, 2), child_seed(3, 2)):  # a negative one as torch read it before
        assert torch.equal(torch.rand(4, generator=generator(seed)),
                           torch.rand(4, generator=torch.Generator().manual_seed(seed)))


def test_children_of_nearby_seeds_do_not_share_seeds() -> None:
    seeds = {child_seed(seed, number) for seed in range(10) for number in range(1000)}
    assert len(seeds) == 10 * 1000


def wide_space(filters: int) -> SearchSpace:
    """One layer of 8 or `filters` filters, unpooled: 16,384 take a 0.5 GB classifier and a 1.6 GB
    feature map for a batch of 32, more than the free memory a test process's heap may hold."""
    return SearchSpace.from_json({"max_layers": 1, "decisions": [
        {"name": "filters", "choices": [8, filters]}, {"name": "kernel_size", "choices": [3]},
        {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [0.0]}]})


def test_a_child_too_large_for_the_memory_is_recorded_as_oom_and_the_next_one_trains(
        small_fashion: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a machine with no more memory than this process holds: the kernel's OOM killer used to end
    # the whole search at such a child (and its resume at the same child again); now its allocation fails.
    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**20))
    before = resource.getrlimit(resource.RLIMIT_DATA)
    space = wide_space(16384)
    worker = worker_for(small_fashion, space)
    wide = worker.run(Child(1, space.decode([1, 0, 0, 0])))
    assert wide.status == "oom" and "can't allocate memory" in wide.reason, wide.reason
    assert "this process may take at most" in wide.reason and "of this machine's memory" in wide.reason
    assert resource.getrlimit(resource.RLIMIT_DATA) == before  # as it was, outside the child
    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**30))  # room for a small child
    assert worker.run(Child(2, space.decode([0, 0, 0, 0]))).status == "ok"
    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**20))
    with pytest.raises(RuntimeError, match="can't allocate memory"):  # the pattern's steps, run by hand: raised
        worker.train_network(space.decode([1, 0, 0, 0]), 3)
    assert resource.getrlimit(resource.RLIMIT_DATA) == before


def test_the_memory_bound_leaves_a_tighter_one_and_the_gpu_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    monkeypatch.setattr(memory, "memory_limit", lambda: 2**50)
    with memory.memory_bound(torch.device("cpu")) as bound:
        assert bound is not None and bound <= memory.MEMORY_SHARE * 2**50
        assert resource.getrlimit(resource.RLIMIT_DATA)[0] == bound
        with memory.memory_bound(torch.device("cpu")) as inner:  # a second child in this process
            assert inner == bound
        assert resource.getrlimit(resource.RLIMIT_DATA)[0] == bound  # still the first child's
    assert resource.getrlimit(resource.RLIMIT_DATA) == (soft, hard)
    monkeypatch.setattr(memory, "memory_limit", lambda: 2**80)  # above a limit set already
    resource.setrlimit(resource.RLIMIT_DATA, (2**62, hard))
    try:
        with memory.memory_bound(torch.device("cpu")) as bound:
            assert bound is None and resource.getrlimit(resource.RLIMIT_DATA)[0] == 2**62
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
    with memory.memory_bound(torch.device("meta")) as bound:  # a GPU's memory is not the process's
        assert bound is None and resource.getrlimit(resource.RLIMIT_DATA) == (soft, hard)


def test_a_supernet_too_large_for_the_memory_stops_the_search_in_one_line(small_fashion: Dataset,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def setup(filters: int) -> WorkerSetup:
        config = SearchConfig(episodes=4, train_limit=200, seed=3, sharing=SharingConfig(steps=2, batch_size=32))
        return WorkerSetup(CNN, wide_space(filters), small_fashion, config, TrainConfig(precision="fp32"))

    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**20))  # no room for 2 GB of weights
    with pytest.raises(ValueError, match=r"^the supernet of this space cannot be made: out of memory \(this process "
                                         r"may take at most .*can't allocate memory.*; search a space with smaller "
                                         r"choices, or without --weight-sharing$"):
        Worker(setup(65536))
    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**30))  # room for its 0.5 GB of weights
    worker = Worker(setup(16384))
    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**20))  # none for its 1.6 GB map
    with pytest.raises(SearchFailed, match=r"^the supernet's shared training cannot go on: out of memory"):
        worker.train_shared(2, lambda rng: wide_space(16384).decode([1, 0, 0, 0]), random.Random(0))

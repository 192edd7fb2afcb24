"""Worker: trains a child with its episode's seed, sends back its metrics and weights, tests it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from nas_pattern import CNN, CNN_SPACE, Dataset, Metrics, SearchConfig, TrainConfig
from nas_pattern.records import Child
from nas_pattern.search_space import SearchSpace
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


def test_children_of_nearby_seeds_do_not_share_seeds() -> None:
    seeds = {child_seed(seed, number) for seed in range(10) for number in range(1000)}
    assert len(seeds) == 10 * 1000

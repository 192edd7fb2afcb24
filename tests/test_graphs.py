"""CUDA graphs for the child trainer (graphs.StepGraphs), checked on the CPU: a capture given as a
Python call stands in for CUDA's, so what StepGraphs does with shapes, warm-up, input copies and a
failed capture is exercised here; tests/test_cuda.py checks the real graphs on a GPU."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from nas_pattern import CNN, NASController, SearchConfig
from nas_pattern.agents import AgentConfig, RLAgent
from nas_pattern.bench.trainer import DROPOUT_CNN
from nas_pattern.data import Dataset
from nas_pattern.graphs import Replay, Step, StepGraphs
from nas_pattern.networks import CNN_SPACE, Metrics
from nas_pattern.trainer import TrainConfig


def python_capture(step: Step, inputs: list[torch.Tensor]) -> Replay:
    """A "graph" that calls the step again on whatever its input tensors hold when replayed."""
    return lambda: step(*inputs)


def failing_capture(step: Step, inputs: list[torch.Tensor]) -> Replay:
    raise RuntimeError("operation not permitted when stream is capturing\nmore detail")


def test_each_shape_runs_eagerly_while_it_warms_up_then_from_its_graph() -> None:
    seen: list[float] = []
    graphs = StepGraphs(lambda x: seen.append(float(x.sum())), torch.device("cpu"), warmup=2,
                        capture=python_capture)
    batches = [torch.full((4,), float(i)) for i in range(6)] + [torch.full((3,), 9.0)]
    for batch in batches:
        graphs(batch)
    assert graphs.eager == 3 and graphs.replayed == 4  # 2 + 1 warm-up steps; 4 steps of the full shape's graph
    assert len(graphs.graphs) == 1 and graphs.execution == "cuda graphs"
    assert seen == [4 * i for i in range(6)] + [27.0]  # each step saw its own inputs, copied into the graph's
    for _ in range(2):  # the partial shape is seen a second and third time: then it has a graph of its own
        graphs(torch.full((3,), 1.0))
    assert len(graphs.graphs) == 2 and seen[-1] == 3.0


def test_off_the_gpu_without_a_capture_every_step_is_eager() -> None:
    graphs = StepGraphs(lambda x: None, torch.device("cpu"))
    for _ in range(10):
        graphs(torch.zeros(2))
    assert graphs.eager == 10 and not graphs.graphs and graphs.execution == "eager"


def test_a_capture_that_fails_leaves_every_step_eager_and_says_why() -> None:
    seen: list[float] = []
    graphs = StepGraphs(lambda x: seen.append(float(x.sum())), torch.device("cpu"), warmup=1,
                        capture=failing_capture)
    for i in range(5):
        graphs(torch.full((2,), float(i)))
    assert seen == [0.0, 2.0, 4.0, 6.0, 8.0] and graphs.eager == 5 and graphs.replayed == 0
    assert graphs.execution == ("eager (CUDA graph capture failed: RuntimeError: operation not permitted when "
                                "stream is capturing)")


def _trained(dataset: Dataset, capture: object, epochs: int = 2) -> Metrics:
    # batch 64 on 1,000 images: 15 full batches and a partial one of 40 each epoch
    network = CNN(DROPOUT_CNN, dataset.input_shape, dataset.num_classes, train_config=TrainConfig(batch_size=64),
                  seed=7)
    network.capture = capture  # type: ignore[assignment]
    network.build()
    network.train(dataset.train, epochs)
    return network.evaluate(dataset.val)


def test_a_child_trained_from_graphs_learns_exactly_what_it_learns_eagerly(small_fashion: Dataset) -> None:
    """The trainer's step reads only its inputs and state it holds: replayed on the inputs copied
    in, it trains the child (dropout included, the partial batch too) exactly as eager steps do."""
    eager = _trained(small_fashion, None, epochs=4)  # the partial shape is captured in the fourth epoch
    graphed = _trained(small_fashion, python_capture, epochs=4)
    assert eager.execution == "eager" and graphed.execution == "cuda graphs"
    assert (graphed.accuracy, graphed.loss) == (eager.accuracy, eager.loss)
    assert eager.accuracy > 0.5


def test_a_child_whose_capture_fails_still_trains_and_its_episode_says_why(small_fashion: Dataset) -> None:
    eager = _trained(small_fashion, None)
    failed = _trained(small_fashion, failing_capture)
    assert (failed.accuracy, failed.loss) == (eager.accuracy, eager.loss)
    assert failed.execution.startswith("eager (CUDA graph capture failed: RuntimeError: operation not permitted")

    class FailingCNN(CNN):  # a child whose capture fails, in a search
        def build(self) -> None:
            super().build()
            self.capture = failing_capture

    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2)), small_fashion,
                               network=FailingCNN, config=SearchConfig(episodes=2, train_limit=300))
    episodes = controller.search().episodes
    assert [e.status for e in episodes] == ["ok", "ok"]
    for episode in episodes:
        assert episode.metrics is not None and "CUDA graph capture failed" in episode.to_json()["metrics"]["execution"]


def test_without_cuda_graphs_the_capture_is_never_asked(small_fashion: Dataset) -> None:
    network = CNN(DROPOUT_CNN, small_fashion.input_shape, small_fashion.num_classes,
                  train_config=replace(TrainConfig(batch_size=64), cuda_graphs=False), seed=7)
    network.capture = failing_capture
    network.build()
    network.train(small_fashion.train, 1)
    assert network.evaluate(small_fashion.val).execution == "eager"


@pytest.mark.parametrize("value", [None, "eager", "cuda graphs"])
def test_a_record_without_execution_reads_as_eager(value: str | None) -> None:
    """episodes.jsonl written before CUDA graphs has no execution: those children ran eagerly."""
    stored = {"accuracy": 0.5, "loss": 1.0, "params": 3, "train_seconds": 1.0}
    if value is not None:
        stored["execution"] = value
    assert Metrics.from_json(stored).execution == (value or "eager")
    assert Metrics.from_json(Metrics.from_json(stored).to_json()) == Metrics.from_json(stored)


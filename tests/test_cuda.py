"""The CUDA paths. On a CUDA GPU only, skipped elsewhere with the reason: children learn there in the
GPU's training configuration, from CUDA graphs as well as eagerly, dropout stays random per replayed
step, K children at once search what one at a time searches, and --deterministic gives the same
search twice, bit for bit.
benchmarks/gpu.sh runs this file, the benches and the default search on a lent GPU (CI has none); it
is tried here on the CPU, so that a GPU call is never spent on a broken script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nas_pattern import CNN, RNN, Dataset, TrainConfig
from nas_pattern.bench.common import REFERENCE_CNN, REFERENCE_RNN
from nas_pattern.bench.trainer import DROPOUT_CNN
from nas_pattern.graphs import StepGraphs

CUDA = torch.device("cuda")
GPU_SH = Path(__file__).parent.parent / "benchmarks" / "gpu.sh"


@pytest.mark.cuda  # skipped without a CUDA GPU (conftest.py)
@pytest.mark.parametrize("kind", ["cnn", "rnn"])
def test_a_child_learns_on_the_gpu_in_the_gpus_configuration(kind: str, fashion: Dataset) -> None:
    config = TrainConfig.for_device(CUDA)
    assert config.batch_size == 256
    network = (CNN(REFERENCE_CNN, fashion.input_shape, fashion.num_classes, train_config=config, device=CUDA)
               if kind == "cnn" else
               RNN(REFERENCE_RNN, fashion.input_shape, fashion.num_classes, train_config=config, device=CUDA))
    network.build()
    assert network.module is not None and all(p.device.type == CUDA.type for p in network.module.parameters())
    network.train(fashion.train.head(10_000), epochs=1)
    metrics = network.evaluate(fashion.val)
    assert metrics.accuracy > 0.6, metrics  # 40 steps of 256 images: well above chance (0.1)
    assert metrics.train_seconds > 0


@pytest.mark.cuda  # skipped without a CUDA GPU (conftest.py)
@pytest.mark.parametrize("kind", ["cnn", "rnn"])
def test_graphed_training_learns_what_eager_training_of_the_same_child_learns(kind: str, fashion: Dataset) -> None:
    """The same child, the same seed, 4 epochs of 10,000 images (39 full batches and a partial one of 16:
    its own graph from the fourth epoch), with CUDA graphs and without: within 1 point."""
    metrics = {}
    for graphs in (False, True):
        config = replace(TrainConfig.for_device(CUDA), cuda_graphs=graphs)
        cls, architecture = (CNN, DROPOUT_CNN) if kind == "cnn" else (RNN, REFERENCE_RNN)
        network = cls(architecture, fashion.input_shape, fashion.num_classes, train_config=config, device=CUDA, seed=5)
        network.build()
        network.train(fashion.train.head(10_000), epochs=4)
        metrics[graphs] = network.evaluate(fashion.val)
    assert metrics[False].execution == "eager" and metrics[True].execution == "cuda graphs", metrics
    assert abs(metrics[True].accuracy - metrics[False].accuracy) <= 0.01, metrics
    assert metrics[True].accuracy > 0.75, metrics


@pytest.mark.cuda  # skipped without a CUDA GPU (conftest.py)
def test_dropout_draws_new_masks_at_every_replay_and_the_same_ones_from_the_same_seed() -> None:
    def masks() -> list[torch.Tensor]:
        ones, out = torch.ones(4096, device=CUDA), torch.empty(4096, device=CUDA)
        graphs = StepGraphs(lambda x: out.copy_(F.dropout(x, 0.5, training=True)), CUDA, warmup=1)
        drawn = []
        with torch.random.fork_rng(devices=[0]):
            torch.manual_seed(11)
            for _ in range(4):
                graphs(ones)
                drawn.append(out.clone())
        assert graphs.replayed == 3 and graphs.execution == "cuda graphs"
        return drawn

    first = masks()
    assert all(not torch.equal(first[i], first[j]) for i in range(4) for j in range(i))
    assert all(torch.equal(a, b) for a, b in zip(first, masks(), strict=True))


def _search(run_dir: Path, *flags: str) -> list[tuple[float, float]]:
    """A short CUDA search in a process of its own; its children's (accuracy, loss)."""
    done = subprocess.run([sys.executable, "-m", "nas_pattern.run", "--device", "cuda", "--episodes", "4",
                           "--children-per-update", "2", "--train-limit", "5000", "--seed", "3", "--no-tensorboard",
                           "--run-dir", str(run_dir), *flags], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    episodes = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    return [(e["metrics"]["accuracy"], e["metrics"]["loss"]) for e in episodes]


@pytest.mark.cuda  # skipped without a CUDA GPU (conftest.py)
def test_two_children_at_once_search_what_one_at_a_time_searches(tmp_path: Path) -> None:
    """Worker processes sharing the GPU: the same architectures, rewarded in the order sampled, each
    from CUDA graphs; the accuracies agree to the GPU's own run-to-run noise."""
    one = _search(tmp_path / "one")
    two = _search(tmp_path / "two", "--children-at-once", "2")
    assert len(two) == len(one) == 4
    assert all(abs(a[0] - b[0]) <= 0.02 for a, b in zip(one, two, strict=True)), (one, two)
    episodes = [json.loads(line) for line in (tmp_path / "two" / "episodes.jsonl").read_text().splitlines()]
    assert [e["metrics"]["execution"] for e in episodes] == ["cuda graphs"] * 4
    first = [json.loads(line)["architecture"]
             for line in (tmp_path / "one" / "episodes.jsonl").read_text().splitlines()]
    assert [e["architecture"] for e in episodes][:2] == first[:2]  # the first update's two, before any reward


@pytest.mark.cuda  # skipped without a CUDA GPU (conftest.py)
def test_deterministic_gives_the_same_search_twice_on_the_gpu(tmp_path: Path) -> None:
    first = _search(tmp_path / "first", "--deterministic")
    assert _search(tmp_path / "second", "--deterministic") == first
    config = json.loads((tmp_path / "first" / "config.json").read_text())["config"]
    assert config["device"] == "cuda"
    assert config["train"]["deterministic"] is True and config["train"]["batch_size"] == 256
    assert len(first) == 4


def _gpu_sh(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(GPU_SH)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable, **env})


@pytest.mark.slow
def test_the_gpu_script_writes_every_figure_when_tried_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _gpu_sh(OUT=str(out), GPU_DEVICE="cpu", GPU_QUICK="1")
    assert done.returncode == 0, done.stderr[-2000:]
    files = {path.name for path in out.iterdir()}
    assert files == {"env.txt", "tests.txt", "trainer.txt", "search.txt", "default-log.txt", "default.txt",
                     "default-run.tar.gz"}  # the device tool brings back 8 files at most
    for part in ("tests.txt", "trainer.txt", "search.txt", "default-log.txt"):
        assert (out / part).read_text().splitlines()[-1].startswith("# done in "), (out / part).read_text()
    assert "torch" in (out / "env.txt").read_text() and "device      cpu" in (out / "env.txt").read_text()
    assert "skipped" in (out / "tests.txt").read_text() and "needs a CUDA GPU" in (out / "tests.txt").read_text()
    assert "ratio" in (out / "trainer.txt").read_text() and "  local" in (out / "search.txt").read_text()
    assert "\nretraining: one epoch on 200 training images" in (out / "trainer.txt").read_text()
    default = (out / "default.txt").read_text()
    assert "default search on cpu" in default and "finished: yes; 2 children" in default, default


def test_the_gpu_script_without_an_out_folder_says_so() -> None:
    done = _gpu_sh(OUT="")
    assert done.returncode != 0 and "set OUT to the folder for the figures" in done.stderr

"""The CUDA paths. On a CUDA GPU only, skipped elsewhere with the reason: children learn there in the
GPU's training configuration, and --deterministic gives the same search twice, bit for bit.
benchmarks/gpu.sh runs this file, the benches and the default search on a lent GPU (CI has none); it
is tried here on the CPU, so that a GPU call is never spent on a broken script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nas_pattern import CNN, RNN, Dataset, TrainConfig
from nas_pattern.bench.common import REFERENCE_CNN, REFERENCE_RNN

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


def _search(run_dir: Path, *flags: str) -> list[tuple[float, float]]:
    """A short CUDA search in a process of its own; its children's (accuracy, loss)."""
    done = subprocess.run([sys.executable, "-m", "nas_pattern.run", "--device", "cuda", "--episodes", "4",
                           "--children-per-update", "2", "--train-limit", "5000", "--seed", "3", "--no-tensorboard",
                           "--run-dir", str(run_dir), *flags], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    episodes = [json.loads(line) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]
    return [(e["metrics"]["accuracy"], e["metrics"]["loss"]) for e in episodes]


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
    default = (out / "default.txt").read_text()
    assert "default search on cpu" in default and "finished: yes; 2 children" in default, default


def test_the_gpu_script_without_an_out_folder_says_so() -> None:
    done = _gpu_sh(OUT="")
    assert done.returncode != 0 and "set OUT to the folder for the figures" in done.stderr

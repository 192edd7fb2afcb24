"""bench retraining: what python -m nas_pattern.train adds to each epoch, against the epoch itself.

After each epoch a retraining writes its state (training.pt, for --resume) and passes the
validation images once (the learning curve). This section trains two CNNs for one epoch on the
device, then times the two extras as train.py does them, and gives each as a share of an epoch
of all the training images (55,000; scaled from the epoch measured, on --train-limit images,
default 5,000 on a CPU).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nas_pattern.bench.common import REFERENCE_CNN, build_network, sync, train_images
from nas_pattern.data import Dataset, Split, load_dataset
from nas_pattern.model import TRAINING, ModelCard, save_training
from nas_pattern.networks import CNN, CNN_SPACE
from nas_pattern.search_space import Architecture
from nas_pattern.trainer import Epoch, TrainConfig
from nas_pattern.worker import dataset_on

# make run's best of 2026-12-06 (README), wide and unpooled: 507k weights, most of them the classifier's
MAKE_RUN_BEST = CNN_SPACE.parse({"layers": [
    {"filters": 8, "kernel_size": 5, "pool_size": 1, "dropout_rate": 0.0},
    {"filters": 64, "kernel_size": 3, "pool_size": 1, "dropout_rate": 0.0}]})


def retraining_section(args: argparse.Namespace, device: torch.device) -> None:
    config = TrainConfig.for_device(device)
    data = dataset_on(load_dataset("fashion-mnist", args.data_dir), device, config.channels_last)  # as train.py
    train = data.train.head(train_images(args, device, 5_000))
    print(f"retraining: one epoch on {len(train):,} training images, then the extras of each epoch of python -m "
          f"nas_pattern.train, median of {args.rounds}; shares of an epoch of all {len(data.train):,} (scaled)")
    print(f"  {'child':<46} {'weights':>9} {'epoch s':>8} {'all s':>8} {'checkpoint ms':>13} {'MB':>5} "
          f"{'share':>6} {'validation s':>12} {'share':>6}")
    for architecture in (REFERENCE_CNN, MAKE_RUN_BEST):
        _row(args, device, data, train, architecture, config)


def _row(args: argparse.Namespace, device: torch.device, data: Dataset, train: Split, architecture: Architecture,
         config: TrainConfig) -> None:
    """One child's epoch, then its checkpoint and its validation pass, timed; a line of the table."""
    network = build_network("CNN", architecture, config, device, args.seed)
    states: list[dict[str, Any]] = []

    def keep(epoch: Epoch) -> None:
        states.append(epoch.state())

    network.on_epoch = keep
    start = time.perf_counter()
    network.train(train, 1)
    sync(device)
    epoch = time.perf_counter() - start
    full_epoch = epoch * len(data.train) / len(train)
    card = ModelCard.of(CNN, architecture, CNN_SPACE, data, config, episode=0, trained="bench",
                        val_metrics=None, test_metrics=None)

    def median_seconds(work: Callable[[], object]) -> float:
        times = []
        for _ in range(args.rounds):
            begin = time.perf_counter()
            work()
            sync(device)
            times.append(time.perf_counter() - begin)
        return statistics.median(times)

    with tempfile.TemporaryDirectory(prefix="nas-bench-") as folder:
        path = Path(folder) / TRAINING
        save = median_seconds(lambda: save_training(path, card, {}, states[0]))
        size = path.stat().st_size / 1e6
    network.evaluate(data.val)  # warm, as every epoch's pass after the first is
    check = median_seconds(lambda: network.evaluate(data.val))
    print(f"  {architecture.describe():<46} {network.params:>9,} {epoch:>8.2f} {full_epoch:>8.1f} "
          f"{save * 1000:>13.1f} {size:>5.1f} {save / full_epoch:>6.2%} {check:>12.3f} {check / full_epoch:>6.2%}")

"""What the bench sections share: the reference children, the study's table, the defaults."""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

import torch

from nas_pattern.data import PIXEL_STATS
from nas_pattern.networks import CNN, CNN_SPACE, RNN, RNN_SPACE, TorchNetwork
from nas_pattern.search_space import Architecture, Decision, SearchSpace
from nas_pattern.table import Table
from nas_pattern.trainer import TrainConfig

MEAN, STD = PIXEL_STATS["fashion-mnist"]  # normalised as the engine normalises it
PLAIN_BATCH = 100  # the plain loop's batch size
PLAIN_LR = 1e-3  # and its Adam step size
# The reference architecture of the 2017 blog code, and one RNN child.
REFERENCE_CNN = CNN_SPACE.parse({"layers": [
    {"filters": 32, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0},
    {"filters": 64, "kernel_size": 5, "pool_size": 2, "dropout_rate": 0.0}]})
REFERENCE_RNN = RNN_SPACE.parse({"layers": [
    {"cell_type": "gru", "hidden_units": 128, "dropout_rate": 0.0, "bidirectional": False}]})

# The tabulated space: 2 layers x filters {16, 32, 64} x kernel {3, 5} x pool {1, 2} x dropout
# {0, 0.25} = 24 choices per layer, 576 architectures. Small enough to train every one of them,
# varied enough (42k to 606k parameters) that the choices matter.
TABLE_SPACE = SearchSpace(
    decisions=(
        Decision("filters", (16, 32, 64)),
        Decision("kernel_size", (3, 5)),
        Decision("pool_size", (1, 2)),
        Decision("dropout_rate", (0.0, 0.25)),
    ),
    max_layers=2,
    layer_format=CNN_SPACE.layer_format,
)
# The committed table: in the repository's benchmarks/ folder (the wheel does not ship it).
TABLE_PATH = "benchmarks/fashion-mnist-cnn576.csv"
TABLE_CPU_TRAIN_LIMIT = 4000  # the table's training images on a CPU (all 55,000 on a GPU)


SEARCH_CPU_TRAIN_LIMIT = 2000  # training images per child of a search on a CPU (all on a GPU)
STUDY_SEEDS = 100  # searches per strategy in the strategies and tune sections
# Student's t, two-sided 95%, by degrees of freedom: the interval over a few seeds is wider than 1.96 sigma.
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


def mean_and_error(values: Sequence[float]) -> tuple[float, float]:
    """The mean of a few seeds' `values` and its standard error (nan for a single value; nan for
    both if one is nan, as a rank correlation of a constant list is)."""
    numbers = [float(value) for value in values]
    if len(numbers) < 2 or any(math.isnan(number) for number in numbers):
        return (numbers[0] if len(numbers) == 1 else math.nan), math.nan
    return statistics.fmean(numbers), statistics.stdev(numbers) / math.sqrt(len(numbers))


def mean_t95(values: Sequence[float]) -> tuple[float, float]:
    """The mean of a few seeds' `values` and the half-width of its 95% interval (Student's t), or
    nan as mean_and_error gives it."""
    middle, error = mean_and_error(values)
    return middle, T95.get(len(values) - 1, 1.96) * error


def table_path(args: argparse.Namespace) -> str:
    """The table tabulate writes and tune searches: --table, or the committed one."""
    return args.table or TABLE_PATH


def check_table(path: str) -> None:
    """FileNotFoundError if there is no table at `path`; for a committed one (benchmarks/...), the
    message says where it is."""
    if Path(path).exists():
        return
    if path.startswith("benchmarks/"):
        raise FileNotFoundError(f"table {path} does not exist here: the measured table is committed in the "
                                "nas-pattern repository's benchmarks/ folder (the wheel does not ship it); run "
                                "from a checkout, pass --table FILE, or write one with "
                                "`python -m nas_pattern.bench tabulate`")
    raise FileNotFoundError(f"table {path} does not exist; write it with `python -m nas_pattern.bench tabulate`")


def load_table(path: str) -> Table:
    """The table at `path`; a missing file says where the committed one is, or how to write one."""
    check_table(path)
    return Table.load(path)


def build_network(kind: str, architecture: Architecture, config: TrainConfig, device: torch.device,
              seed: int) -> TorchNetwork:
    """The child, built: the same initial weights for the same seed."""
    cls = CNN if kind == "CNN" else RNN
    network = cls(architecture, (1, 28, 28), 10, train_config=config, device=device, seed=seed)
    network.build()
    return network



def train_images(args: argparse.Namespace, device: torch.device, cpu_default: int) -> int | None:
    """--train-limit, or the section's default: `cpu_default` images on a CPU, all on a GPU."""
    return args.train_limit or (cpu_default if device.type == "cpu" else None)



def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)

"""Shared fixtures: Fashion-MNIST and a small real subset of it (helpers.py holds the rest)."""

from __future__ import annotations

import os

import pytest

from nas_pattern import Dataset, load_dataset
from nas_pattern.precision import PRECISION_ENV

# Tests compare runs with each other, so no test depends on the CPU precision probe: "auto" means
# fp32 here, and in the engines and CLIs the tests start (they inherit the environment). The
# probe's own tests unset it.
os.environ.setdefault(PRECISION_ENV, "fp32")


@pytest.fixture(scope="session")
def fashion() -> Dataset:
    """Fashion-MNIST from Debian's package (the Makefile installs it)."""
    return load_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def small_fashion(fashion: Dataset) -> Dataset:
    """1000 train / 500 validation / 500 test images: enough to see a child learn, fast on a CPU."""
    return Dataset("fashion-mnist", fashion.train.head(1000), fashion.val.head(500), fashion.test.head(500),
                   fashion.num_classes)

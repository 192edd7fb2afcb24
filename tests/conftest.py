"""Shared fixtures: Fashion-MNIST and a small real subset of it (helpers.py holds the rest)."""

from __future__ import annotations

import pytest

from nas_pattern import Dataset, load_dataset


@pytest.fixture(scope="session")
def fashion() -> Dataset:
    """Fashion-MNIST from Debian's package (the Makefile installs it)."""
    return load_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def small_fashion(fashion: Dataset) -> Dataset:
    """1000 train / 500 validation / 500 test images: enough to see a child learn, fast on a CPU."""
    return Dataset("fashion-mnist", fashion.train.head(1000), fashion.val.head(500), fashion.test.head(500),
                   fashion.num_classes)

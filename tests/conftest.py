"""Shared fixtures: Fashion-MNIST and a small real subset of it (helpers.py holds the rest)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import torch

from nas_pattern import Dataset, load_dataset
from nas_pattern.precision import PRECISION_ENV, cpu_precision

# Tests compare runs with each other, so the precision "auto" means is pinned once for the whole
# session, here and in the engines and CLIs the tests start (they inherit the environment): no two
# runs a test compares can train in different precisions, whatever the load. The value pinned is
# this machine's kept choice (measured once, the first time: ~/.cache/nas-pattern), so the suite
# trains at the machine's pace; NAS_PATTERN_PRECISION=fp32 make test pins fp32 instead. The
# probe's own tests unset it.
if not os.environ.get(PRECISION_ENV):
    os.environ[PRECISION_ENV] = f"conv={cpu_precision('conv')},recurrent={cpu_precision('recurrent')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked cuda are skipped, with the reason, where torch sees no CUDA GPU (CI never has one)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; benchmarks/gpu.sh runs the cuda tests on one")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def ray_temp_dir() -> Iterator[None]:
    """The session folders (logs, sockets) of the Ray instances the tests start, here and in the CLIs
    they run, in a folder of this test process's, removed at its end: Ray keeps them in /tmp/ray."""
    if os.environ.get("RAY_TMPDIR"):  # someone chose where they go
        yield
        return
    path = tempfile.mkdtemp(prefix="nas-ray-")  # short: Ray's socket paths inside it must stay under 108 bytes
    os.environ["RAY_TMPDIR"] = path
    try:
        yield
    finally:
        del os.environ["RAY_TMPDIR"]
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def fashion() -> Dataset:
    """Fashion-MNIST from Debian's package (the Makefile installs it)."""
    return load_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def small_fashion(fashion: Dataset) -> Dataset:
    """1000 train / 500 validation / 500 test images: enough to see a child learn, fast on a CPU."""
    return Dataset("fashion-mnist", fashion.train.head(1000), fashion.val.head(500), fashion.test.head(500),
                   fashion.num_classes)

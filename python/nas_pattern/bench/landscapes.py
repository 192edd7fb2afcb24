"""The landscapes the study searches: measured tables, and synthetic ones with known structure.

A landscape is a `Table`: every architecture of a space with a validation and a test accuracy.
The measured ones were trained by `bench tabulate` and are committed in the repository's
benchmarks/ folder; the synthetic ones are computed here from a seed, cost nothing, and have an
optimum known by construction:

- additive:     each decision adds its own amount (no interactions): a hill a greedy climber tops.
- interacting:  each decision's amount depends on the next two decisions (an NK landscape, K = 2),
                with a planted optimum above every other architecture.
- deceptive:    two basins, a wide one sloping to a local optimum and a narrow, steeper one around
                the global optimum, which differs from the local one in most decisions.

The agents' hyperparameters were tuned (`bench tune`) on the landscapes marked `tuned`; the study
draws its conclusions from the others, the held-out ones, only.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from nas_pattern.bench.common import TABLE_SPACE, load_table
from nas_pattern.search_space import Architecture
from nas_pattern.table import Row, Table

# The synthetic landscapes' space: the measured CNN table's decisions over 3 layers, 24 choices per
# layer, 13,824 architectures (24 times the measured table).
SYNTHETIC_SPACE = replace(TABLE_SPACE, max_layers=3, min_layers=3)
SYNTHETIC_SEED = 2026  # the synthetic landscapes' weights are drawn from it


@dataclass(frozen=True)
class Landscape:
    """One landscape of the study: its name, where it comes from, and whether it was tuned on."""

    name: str
    description: str
    tuned: bool  # True: the agents' hyperparameters were chosen on it (its figures are not evidence)
    path: str | None = None  # a measured table's file, relative to the repository root
    make: Callable[[], Table] | None = None  # a synthetic table's generator

    def load(self) -> Table:
        if self.make is not None:
            return self.make()
        assert self.path is not None
        return load_table(self.path)


def _row(value: float) -> Row:
    """A synthetic architecture's row: validation and test accuracy are the landscape's value."""
    value = round(value, 6)
    return Row(val_accuracy=value, val_loss=round(1 - value, 6), test_accuracy=value, test_loss=round(1 - value, 6),
               params=0, train_seconds=0.0)


def _table(name: str, values: dict[Architecture, float], optimum: Architecture) -> Table:
    metadata = {"space": SYNTHETIC_SPACE.to_json(), "synthetic": name, "seed": SYNTHETIC_SEED,
                "optimum": optimum.to_json(), "dataset": "synthetic", "num_classes": 10}
    return Table(SYNTHETIC_SPACE, {a: _row(v) for a, v in values.items()}, metadata)


def _choices() -> list[tuple[list[int], Architecture]]:
    space = SYNTHETIC_SPACE
    return [(list(i), space.decode(i)) for i in itertools.product(*(range(n) for n in space.num_choices))]


def additive() -> Table:
    """value = 0.75 + the sum over decisions of an amount per choice; the optimum takes each
    decision's largest amount."""
    rng = random.Random(f"{SYNTHETIC_SEED}-additive")
    amounts = [[rng.uniform(0.0, 0.01) for _ in range(n)] for n in SYNTHETIC_SPACE.num_choices]
    values = {a: 0.75 + sum(amounts[t][c] for t, c in enumerate(i)) for i, a in _choices()}
    optimum = SYNTHETIC_SPACE.decode([max(range(len(w)), key=w.__getitem__) for w in amounts])
    return _table("additive", values, optimum)


def interacting() -> Table:
    """An NK landscape (Kauffman, 1989) with K = 2: decision t adds an amount drawn for the choices
    of t, t + 1 and t + 2 (cyclically), so no decision is best on its own. A planted architecture
    is lifted 0.002 above the best of the rest: it is the optimum."""
    rng = random.Random(f"{SYNTHETIC_SEED}-interacting")
    n = SYNTHETIC_SPACE.num_choices
    steps = len(n)
    amounts = [{key: rng.uniform(0.0, 0.01) for key in itertools.product(
        range(n[t]), range(n[(t + 1) % steps]), range(n[(t + 2) % steps]))} for t in range(steps)]
    values = {a: 0.75 + sum(amounts[t][(i[t], i[(t + 1) % steps], i[(t + 2) % steps])] for t in range(steps))
              for i, a in _choices()}
    optimum = SYNTHETIC_SPACE.decode([rng.randrange(k) for k in n])
    values[optimum] = max(v for a, v in values.items() if a != optimum) + 0.002
    return _table("interacting", values, optimum)


def deceptive() -> Table:
    """Two basins over the Hamming distance d (decisions that differ): a local optimum L with
    value 0.84 - 0.005 d(a, L), and the global optimum G, which differs from L in every decision,
    with value 0.85 - 0.02 d(a, G). Most of the space slopes towards L; G's basin is narrow. A
    small amount per choice (< 0.001) breaks ties and leaves G the optimum."""
    rng = random.Random(f"{SYNTHETIC_SEED}-deceptive")
    n = SYNTHETIC_SPACE.num_choices
    local = [rng.randrange(k) for k in n]
    best = [(c + 1 + rng.randrange(k - 1)) % k for c, k in zip(local, n, strict=True)]  # != local everywhere
    jitter = [[rng.uniform(0.0, 0.001 / len(n)) for _ in range(k)] for k in n]

    def value(i: list[int]) -> float:
        to_local = sum(a != b for a, b in zip(i, local, strict=True))
        to_best = sum(a != b for a, b in zip(i, best, strict=True))
        if to_best == 0:
            return 0.85 + 0.001
        return max(0.84 - 0.005 * to_local, 0.85 - 0.02 * to_best) + sum(jitter[t][c] for t, c in enumerate(i))

    values = {a: value(i) for i, a in _choices()}
    return _table("deceptive", values, SYNTHETIC_SPACE.decode(best))


# Every landscape of the study, tuned ones first. The tuned ones were declared before the
# held-out ones were measured or searched.
LANDSCAPES: dict[str, Landscape] = {landscape.name: landscape for landscape in (
    Landscape("cnn576", "576 CNNs, 2 layers, 4,000 training images, 1 epoch (measured)", tuned=True,
              path="benchmarks/fashion-mnist-cnn576.csv"),
    Landscape("additive", "13,824 architectures, synthetic: each decision adds its own amount", tuned=True,
              make=additive),
    Landscape("rnn256", "256 RNNs (GRU/LSTM, 2 layers), 2,000 training images, 1 epoch (measured)", tuned=False,
              path="benchmarks/fashion-mnist-rnn256.csv"),
    Landscape("cnn-skips212", "212 CNNs of 1-3 layers with skip connections, 2,000 training images (measured)",
              tuned=False, path="benchmarks/fashion-mnist-cnn-skips212.csv"),
    Landscape("cnn144-8k", "144 CNNs, 2 layers, 8,000 training images, 1 epoch (measured, a larger budget)",
              tuned=False, path="benchmarks/fashion-mnist-cnn144-8k.csv"),
    Landscape("interacting", "13,824 architectures, synthetic: NK landscape, K = 2, planted optimum", tuned=False,
              make=interacting),
    Landscape("deceptive", "13,824 architectures, synthetic: a wide basin to a local optimum, a narrow one to "
              "the global", tuned=False, make=deceptive),
)}


def load(source: str) -> Table:
    """The table of a landscape named in LANDSCAPES, or of a table file."""
    if source in LANDSCAPES:
        return LANDSCAPES[source].load()
    return load_table(source)


def name_of(source: str) -> str:
    """A short name for a landscape given by name or by file."""
    return source if source in LANDSCAPES else Path(source).stem

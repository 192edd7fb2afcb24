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

Those have 13,824 architectures. The large ones (`LargeTable`) have a million encodings and more,
too many for a row each: their value is computed for every encoding at once, as one tensor, and a
row is made when it is looked up. Besides the three kinds above, over 4 layers of an op (9
choices) and a width (4 choices), 36^4 = 1,679,616 architectures:

- nk1:          an NK landscape with K = 1 (each decision interacts with the next one only).
- sparse:       three decisions decide almost everything (with interactions among them); the other
                five add under a tenth as much: the best architectures share three choices.
- skips:        1-3 layers with skip connections, 1,119,744 encodings of 141,300 distinct
                architectures: most architectures have several encodings (the unused layers of a
                shallow one, a layer that reads only the one before it), as in a real cell space.

The agents' hyperparameters were tuned (`bench tune`) on the landscapes marked `tuned`; the study
draws its conclusions from the others, the held-out ones, only.

One piece of ~370 lines: every landscape of the study, small and large, with the registry that
declares which were tuned on, so that declaration sits beside what it declares.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from nas_pattern.bench.common import TABLE_SPACE, load_table
from nas_pattern.search_space import Architecture, Decision, SearchSpace
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


# ---- the large landscapes: a value per encoding, computed at once ----

# 4 layers of an op (9 choices) and a width (4 choices): 8 decisions, 36^4 = 1,679,616 architectures.
LARGE_SPACE = SearchSpace(
    decisions=(Decision("op", ("conv3", "conv5", "conv7", "sep3", "sep5", "sep7", "dil3", "dil5", "pool3")),
               Decision("width", (16, 32, 64, 128))),
    max_layers=4,
    layer_format="{op}x{width}",
)
# 1-3 of those layers with skip connections: 1,119,744 encodings, 141,300 distinct architectures.
SKIPS_SPACE = replace(LARGE_SPACE, max_layers=3, min_layers=1, skip_connections=True)


def encodings(space: SearchSpace) -> int:
    """How many choice sequences the agents can sample in `space` (its `size` counts the distinct
    architectures they decode to)."""
    return math.prod(space.num_choices)


def _strides(space: SearchSpace) -> list[int]:
    """Each step's place value in an encoding's index: the last step varies fastest."""
    return [math.prod(space.num_choices[t + 1:]) for t in range(len(space.num_choices))]


class EncodedRows(Mapping[Architecture, Row]):
    """A large landscape's rows: one value per encoding of `space` (a tensor, in index order), a Row
    made on demand when an architecture is looked up (at its canonical encoding, `space.encode`)."""

    def __init__(self, space: SearchSpace, values: torch.Tensor):
        if values.shape != (encodings(space),):
            raise ValueError(f"expected one value per encoding ({encodings(space)}), got {tuple(values.shape)}")
        self.space = space
        self.scores = values
        self._strides = _strides(space)

    def index(self, architecture: Architecture) -> int:
        return sum(c * s for c, s in zip(self.space.encode(architecture), self._strides, strict=True))

    def __getitem__(self, architecture: Architecture) -> Row:
        if architecture not in self:
            raise KeyError(architecture)
        return _row(float(self.scores[self.index(architecture)]))

    def __contains__(self, architecture: object) -> bool:
        return isinstance(architecture, Architecture) and not self.space.validate(architecture)

    def __iter__(self) -> Iterator[Architecture]:
        return iter(self.space)  # every distinct architecture once (slow: there are a million)

    def __len__(self) -> int:
        return self.space.size

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, EncodedRows) and other.space == self.space
                and torch.equal(other.scores, self.scores))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking mapping, as dict


@dataclass(frozen=True)
class LargeTable(Table):
    """A Table whose rows are EncodedRows: its best architecture is the argmax of the values."""

    @property
    def best(self) -> tuple[Architecture, Row]:
        rows = self.rows
        assert isinstance(rows, EncodedRows)
        index = int(rows.scores.argmax())
        choices = [index // s % n for s, n in zip(rows._strides, self.space.num_choices, strict=True)]
        architecture = self.space.decode(choices)
        return architecture, rows[architecture]


def _columns(space: SearchSpace) -> list[torch.Tensor]:
    """Every encoding's choice at each step, as one (encodings,) tensor per step, in index order."""
    index = torch.arange(encodings(space))
    return [index // s % n for s, n in zip(_strides(space), space.num_choices, strict=True)]


def _uniform(rng: random.Random, high: float, *shape: int) -> torch.Tensor:
    return torch.tensor([rng.uniform(0.0, high) for _ in range(math.prod(shape))], dtype=torch.float64).reshape(shape)


def _large(name: str, space: SearchSpace, values: torch.Tensor) -> LargeTable:
    values = values.round(decimals=6)  # as a row holds it
    table = LargeTable(space, EncodedRows(space, values), {})
    metadata = {"space": space.to_json(), "synthetic": name, "seed": SYNTHETIC_SEED, "dataset": "synthetic",
                "num_classes": 10, "encodings": encodings(space), "optimum": table.best[0].to_json()}
    return LargeTable(space, table.rows, metadata)


def _planted(values: torch.Tensor, rng: random.Random, space: SearchSpace, lift: float = 0.002) -> torch.Tensor:
    """`values` with a random encoding lifted `lift` above the best of the rest: the optimum."""
    strides = _strides(space)
    planted = sum(rng.randrange(n) * s for n, s in zip(space.num_choices, strides, strict=True))
    values = values.clone()
    values[planted] = -math.inf
    values[planted] = values.max() + lift
    return values


def _nk(space: SearchSpace, k: int, rng: random.Random, high: float) -> torch.Tensor:
    """Kauffman's NK landscape: decision t adds an amount drawn for its choice and the choices of
    the k decisions after it (cyclically)."""
    n, c = space.num_choices, _columns(space)
    steps = len(n)
    total = torch.zeros(encodings(space), dtype=torch.float64)
    for t in range(steps):
        around = [(t + j) % steps for j in range(k + 1)]
        amounts = _uniform(rng, high, *(n[u] for u in around))
        total += amounts[tuple(c[u] for u in around)]
    return total


def additive_large() -> LargeTable:
    """value = 0.75 + an amount per choice of each decision (up to 0.01 each)."""
    rng = random.Random(f"{SYNTHETIC_SEED}-additive-large")
    c = _columns(LARGE_SPACE)
    values = 0.75 + sum(_uniform(rng, 0.01, n)[c[t]] for t, n in enumerate(LARGE_SPACE.num_choices))
    return _large("additive-1.7m", LARGE_SPACE, torch.as_tensor(values))


def nk1_large() -> LargeTable:
    """NK, K = 1: decision t's amount depends on its choice and the next decision's; no plant."""
    rng = random.Random(f"{SYNTHETIC_SEED}-nk1-large")
    return _large("nk1-1.7m", LARGE_SPACE, 0.75 + _nk(LARGE_SPACE, 1, rng, 0.01))


def interacting_large() -> LargeTable:
    """NK, K = 2, with a planted optimum 0.002 above the best of the rest (as `interacting`)."""
    rng = random.Random(f"{SYNTHETIC_SEED}-interacting-large")
    values = 0.75 + _nk(LARGE_SPACE, 2, rng, 0.01)
    return _large("interacting-1.7m", LARGE_SPACE, _planted(values, rng, LARGE_SPACE))


def deceptive_large() -> LargeTable:
    """As `deceptive`: a wide basin towards a local optimum L (0.84 - 0.005 per decision away from
    it), a narrow one around the global optimum G, which differs from L everywhere (0.85 - 0.02 per
    decision away), and a jitter per choice under 0.001 in all."""
    rng = random.Random(f"{SYNTHETIC_SEED}-deceptive-large")
    n, c = LARGE_SPACE.num_choices, _columns(LARGE_SPACE)
    local = [rng.randrange(k) for k in n]
    best = [(x + 1 + rng.randrange(k - 1)) % k for x, k in zip(local, n, strict=True)]
    to_local = torch.stack([(c[t] != local[t]).double() for t in range(len(n))]).sum(0)
    to_best = torch.stack([(c[t] != best[t]).double() for t in range(len(n))]).sum(0)
    jitter = sum(_uniform(rng, 0.001 / len(n), k)[c[t]] for t, k in enumerate(n))
    values = torch.maximum(0.84 - 0.005 * to_local, 0.85 - 0.02 * to_best) + jitter
    values = torch.where(to_best == 0, torch.full_like(values, 0.85 + 0.001), values)
    return _large("deceptive-1.7m", LARGE_SPACE, values)


SPARSE_STEPS = (0, 3, 6)  # the decisions that matter in `sparse`: layer 1's op, layer 2's width, layer 4's op


def sparse_large() -> LargeTable:
    """Three decisions matter: an amount per choice of each (up to 0.02) and one per pair of their
    choices (up to 0.01); every other decision adds up to 0.0005 per choice."""
    rng = random.Random(f"{SYNTHETIC_SEED}-sparse-large")
    n, c = LARGE_SPACE.num_choices, _columns(LARGE_SPACE)
    values = torch.full((encodings(LARGE_SPACE),), 0.75, dtype=torch.float64)
    for t, k in enumerate(n):
        values += _uniform(rng, 0.02 if t in SPARSE_STEPS else 0.0005, k)[c[t]]
    for a, b in itertools.combinations(SPARSE_STEPS, 2):
        values += _uniform(rng, 0.01, n[a], n[b])[c[a], c[b]]
    return _large("sparse-1.7m", LARGE_SPACE, values)


def skips_large() -> LargeTable:
    """1-3 layers with skip connections. An architecture's value is a function of what it is, so
    every encoding of it has the same one: an amount per depth, per layer's (op, width), per pair
    of consecutive layers' ops, and per set of layers that feed layer 3 (each up to 0.01)."""
    space = SKIPS_SPACE
    rng = random.Random(f"{SYNTHETIC_SEED}-skips-large")
    c = dict(zip(space.step_names, _columns(space), strict=True))
    depth = c["depth"] + 1  # min_layers = 1
    ops, widths = (len(d.choices) for d in space.decisions)
    values = 0.75 + _uniform(rng, 0.01, 3)[c["depth"]]
    for layer in (1, 2, 3):
        used = (depth >= layer).double()
        values = values + used * _uniform(rng, 0.01, ops, widths)[c[f"l{layer}_op"], c[f"l{layer}_width"]]
        if layer > 1:
            values = values + used * _uniform(rng, 0.01, ops, ops)[c[f"l{layer - 1}_op"], c[f"l{layer}_op"]]
    # Layer 3 reads L1, L2 or both (no layer selected means L2, as SearchSpace.decode reads it);
    # layer 2 can only read L1.
    feeds = c["l3_from_l1"] + 2 * c["l3_from_l2"]  # 1: L1, 2: L2, 3: both
    feeds = torch.where(feeds == 0, torch.full_like(feeds, 2), feeds)
    values = values + (depth >= 3).double() * _uniform(rng, 0.01, 4)[feeds]
    return _large("skips-1.1m", space, values)


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
    # The large ones: tuned on the first two (declared before the others were searched).
    Landscape("additive-1.7m", "1,679,616 architectures, synthetic: each decision adds its own amount", tuned=True,
              make=additive_large),
    Landscape("nk1-1.7m", "1,679,616 architectures, synthetic: NK landscape, K = 1", tuned=True, make=nk1_large),
    Landscape("interacting-1.7m", "1,679,616 architectures, synthetic: NK landscape, K = 2, planted optimum",
              tuned=False, make=interacting_large),
    Landscape("deceptive-1.7m", "1,679,616 architectures, synthetic: a wide basin to a local optimum, a narrow one "
              "to the global", tuned=False, make=deceptive_large),
    Landscape("sparse-1.7m", "1,679,616 architectures, synthetic: three decisions decide, five barely matter",
              tuned=False, make=sparse_large),
    Landscape("skips-1.1m", "1,119,744 encodings of 141,300 architectures (1-3 layers, skip connections), "
              "synthetic", tuned=False, make=skips_large),
)}


def load(source: str) -> Table:
    """The table of a landscape named in LANDSCAPES, or of a table file."""
    if source in LANDSCAPES:
        return LANDSCAPES[source].load()
    return load_table(source)


def name_of(source: str) -> str:
    """A short name for a landscape given by name or by file."""
    return source if source in LANDSCAPES else Path(source).stem

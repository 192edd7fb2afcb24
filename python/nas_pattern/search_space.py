"""SearchSpace: the table of decisions the controller makes, and the Architecture it yields.

A space is data: an ordered list of named decisions, each with its choices, repeated per
layer. The controller only sees choice indices; `encode`/`decode` translate.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Value = int | float | str | bool  # a choice as it appears in JSON


@dataclass(frozen=True)
class Decision:
    """One row of the table: a named decision and the values it may take."""

    name: str
    choices: tuple[Value, ...]


@dataclass(frozen=True)
class Architecture:
    """One sampled child: for each layer, the value chosen for every decision.

    Immutable and hashable, so it can key the controller's cache of evaluated children.
    """

    layers: tuple[tuple[tuple[str, Value], ...], ...]  # per layer: (decision name, value) pairs
    layer_format: str = field(default="", compare=False)  # template for describe(), e.g. "conv {kernel_size}x{filters}"

    def __getitem__(self, index: int) -> dict[str, Value]:
        return dict(self.layers[index])

    def __len__(self) -> int:
        return len(self.layers)

    def describe(self) -> str:
        """One line for humans: `conv 5x32 pool2 drop0.25 | conv 3x64 pool1 drop0.0`."""
        parts = []
        for layer in self.layers:
            values = dict(layer)
            if self.layer_format:
                parts.append(self.layer_format.format(**values))
            else:
                parts.append(" ".join(f"{name}={value}" for name, value in layer))
        return " | ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"layers": [dict(layer) for layer in self.layers]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], layer_format: str = "") -> Architecture:
        layers = data.get("layers") if isinstance(data, Mapping) else None
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            raise ValueError(f"architecture JSON must be {{'layers': [{{name: value, ...}}, ...]}}, got {data!r}")
        return cls(tuple(tuple(layer.items()) for layer in layers), layer_format)


@dataclass(frozen=True)
class SearchSpace:
    """An ordered table of decisions, made once per layer for `max_layers` layers.

    The controller makes len(decisions) * max_layers choices per architecture, layer by
    layer, decision by decision, in table order.
    """

    decisions: tuple[Decision, ...]
    max_layers: int = 2  # every layer is present; depth is fixed at max_layers
    layer_format: str = ""  # describe() template; "" prints name=value pairs

    def __post_init__(self) -> None:
        _check(self.max_layers, isinstance(self.max_layers, int) and not isinstance(self.max_layers, bool)
               and self.max_layers >= 1, "max_layers", "an integer >= 1")
        _check(self.decisions, len(self.decisions) >= 1, "decisions", "at least one decision")
        names = [d.name for d in self.decisions]
        for i, decision in enumerate(self.decisions):
            where = f"decisions[{i}]"
            _check(decision.name, isinstance(decision.name, str) and decision.name.isidentifier(),
                   f"{where}.name", "an identifier such as 'filters'")
            _check(decision.name, names.count(decision.name) == 1, f"{where}.name", "a name used once")
            _check(decision.choices, len(decision.choices) >= 1, f"{where}.choices ({decision.name})",
                   "a non-empty list")
            for choice in decision.choices:
                _check(choice, isinstance(choice, int | float | str | bool) and not _is_nan(choice),
                       f"{where}.choices ({decision.name})", "numbers, strings or booleans")
            _check(decision.choices, len(set(map(_key, decision.choices))) == len(decision.choices),
                   f"{where}.choices ({decision.name})", "distinct values")
        if self.layer_format:  # try every choice of every decision, so describe() cannot fail later
            first = {d.name: d.choices[0] for d in self.decisions}
            for decision in self.decisions:
                for choice in decision.choices:
                    try:
                        self.layer_format.format(**{**first, decision.name: choice})
                    except Exception as err:  # any error: the template does not fit these values
                        raise ValueError(f"layer_format {self.layer_format!r} does not fit the decisions "
                                         f"{names}: {err!r}") from None

    # ---- the controller's view: a flat sequence of categorical steps ----

    @property
    def num_choices(self) -> list[int]:
        """Number of choices at each controller step, layer-major: [n(d0), n(d1), ..., n(d0), ...]."""
        return [len(d.choices) for d in self.decisions] * self.max_layers

    @property
    def step_names(self) -> list[str]:
        """A name per controller step, in the order of num_choices: `l<layer>_<decision>`, 1-based."""
        return [f"l{layer + 1}_{d.name}" for layer in range(self.max_layers) for d in self.decisions]

    @property
    def size(self) -> int:
        """How many distinct architectures the space holds."""
        return math.prod(self.num_choices)

    def decode(self, indices: Sequence[int]) -> Architecture:
        """Choice indices (one per step) -> Architecture."""
        steps = self.num_choices
        if len(indices) != len(steps):
            raise ValueError(f"expected {len(steps)} choice indices, got {len(indices)}")
        layers = []
        for layer in range(self.max_layers):
            pairs = []
            for j, decision in enumerate(self.decisions):
                index = int(indices[layer * len(self.decisions) + j])
                if not 0 <= index < len(decision.choices):
                    raise ValueError(f"choice index {index} out of range for {decision.name!r} "
                                     f"(0..{len(decision.choices) - 1})")
                pairs.append((decision.name, decision.choices[index]))
            layers.append(tuple(pairs))
        return Architecture(tuple(layers), self.layer_format)

    def encode(self, architecture: Architecture) -> list[int]:
        """Architecture -> choice indices; ValueError naming the first value not in the space."""
        reasons = self.validate(architecture)
        if reasons:
            raise ValueError(f"architecture not in this search space: {reasons[0]}")
        indices = []
        for layer in architecture.layers:
            values = dict(layer)
            for decision in self.decisions:
                keys = [_key(c) for c in decision.choices]
                indices.append(keys.index(_key(values[decision.name])))
        return indices

    def validate(self, architecture: Architecture) -> list[str]:
        """Reasons why `architecture` is not a member of this space (empty if it is)."""
        reasons = []
        if len(architecture.layers) != self.max_layers:
            reasons.append(f"has {len(architecture.layers)} layers, the space has {self.max_layers}")
        names = [d.name for d in self.decisions]
        for i, layer in enumerate(architecture.layers):
            values = dict(layer)
            if list(values) != names:
                reasons.append(f"layer {i} has decisions {list(values)}, expected {names}")
                continue
            for decision in self.decisions:
                if _key(values[decision.name]) not in {_key(c) for c in decision.choices}:
                    reasons.append(f"layer {i}: {decision.name}={values[decision.name]!r} is not one of "
                                   f"{list(decision.choices)}")
        return reasons

    def parse(self, data: Mapping[str, Any]) -> Architecture:
        """Architecture JSON -> Architecture of this space (checked, with this space's describe format)."""
        # encode() raises if it is not a member; decode() gives the values as the space spells
        # them (0 -> 0.0 for a float decision) and the space's describe() format.
        return self.decode(self.encode(Architecture.from_json(data, self.layer_format)))

    def __iter__(self) -> Iterator[Architecture]:
        """Every architecture of the space, in index order (use only on small spaces)."""
        for indices in itertools.product(*(range(n) for n in self.num_choices)):
            yield self.decode(indices)

    # ---- the table as JSON (the --space FILE format) ----

    def to_json(self) -> dict[str, Any]:
        return {
            "max_layers": self.max_layers,
            "layer_format": self.layer_format,
            "decisions": [{"name": d.name, "choices": list(d.choices)} for d in self.decisions],
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "search space") -> SearchSpace:
        """Build a space from its JSON table; ValueError with one line naming what is wrong."""
        try:
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object with 'decisions', got {type(data).__name__}")
            unknown = set(data) - {"max_layers", "layer_format", "decisions"}
            if unknown:
                raise ValueError(f"unknown key(s) {sorted(unknown)}; expected max_layers, layer_format, decisions")
            rows = data.get("decisions")
            if not isinstance(rows, list):
                raise ValueError("'decisions' must be a list of {\"name\": ..., \"choices\": [...]} objects")
            decisions = []
            for i, row in enumerate(rows):
                if not isinstance(row, dict) or set(row) != {"name", "choices"}:
                    raise ValueError(f"decisions[{i}] must be an object with exactly 'name' and 'choices', "
                                     f"got {row!r}")
                if not isinstance(row["choices"], list):
                    raise ValueError(f"decisions[{i}].choices must be a list, got {row['choices']!r}")
                decisions.append(Decision(row["name"], tuple(row["choices"])))
            layer_format = data.get("layer_format", "")
            if not isinstance(layer_format, str):
                raise ValueError(f"layer_format must be a string, got {layer_format!r}")
            return cls(tuple(decisions), data.get("max_layers", 2), layer_format)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Read a space from a JSON file (`--space FILE`)."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"search space file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"search space file {path} cannot be read: {err}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"search space file {path} is not valid JSON: {err}") from None
        return cls.from_json(data, source=f"search space file {path}")


def _check(value: Any, ok: bool, what: str, expected: str) -> None:
    if not ok:
        raise ValueError(f"{what} must be {expected}, got {value!r}")


def _is_nan(value: Value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _key(value: Value) -> tuple[str, Value]:
    """Compare choices by kind as well as value, so True is not mistaken for 1."""
    return ("bool", value) if isinstance(value, bool) else ("str", value) if isinstance(value, str) \
        else ("num", value)


# The two default spaces, as data. CNN: the four per-layer decisions of the 2017 reference
# NAS code, wide enough to hold the classic conv 5x32 pool2 | conv 5x64 pool2 network.
CNN_SPACE = SearchSpace(
    decisions=(
        Decision("filters", (8, 16, 32, 64)),
        Decision("kernel_size", (1, 3, 5)),
        Decision("pool_size", (1, 2)),
        Decision("dropout_rate", (0.0, 0.25, 0.5)),
    ),
    max_layers=2,
    layer_format="conv {kernel_size}x{filters} pool{pool_size} drop{dropout_rate}",
)

# RNN: the image is read row by row; each layer picks its cell, width, dropout and direction.
RNN_SPACE = SearchSpace(
    decisions=(
        Decision("cell_type", ("rnn", "gru", "lstm")),
        Decision("hidden_units", (32, 64, 128)),
        Decision("dropout_rate", (0.0, 0.25, 0.5)),
        Decision("bidirectional", (False, True)),
    ),
    max_layers=1,
    layer_format="{cell_type} {hidden_units} drop{dropout_rate} bidirectional={bidirectional}",
)

DEFAULT_SPACES = {"cnn": CNN_SPACE, "rnn": RNN_SPACE}

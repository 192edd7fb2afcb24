"""SearchSpace: the table of decisions the controller makes, and the Architecture it yields.

A space is data: an ordered list of named decisions, each with its choices, repeated per
layer. The agent only sees choice indices; `encode`/`decode` translate.

One piece of ~380 lines because the space and its Architecture are two faces of one encoding:
depth and skip connections change how indices map to architectures on both sides at once.
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
    """One sampled child: for each layer, the value chosen for every decision, and (in a space with
    skip connections) which earlier layers feed it.

    Immutable and hashable, so it can key the controller's cache of evaluated children.
    """

    layers: tuple[tuple[tuple[str, Value], ...], ...]  # per layer: (decision name, value) pairs
    # Per layer, the layers it reads, 1-based (0 = the image); () = a plain chain, each layer reading
    # the one before it. The classifier reads every layer that no later layer reads (`outputs`).
    inputs: tuple[tuple[int, ...], ...] = ()
    # template for describe(), e.g. "conv {kernel_size}x{filters}"
    layer_format: str = field(default="", compare=False)

    def __getitem__(self, index: int) -> dict[str, Value]:
        return dict(self.layers[index])

    def __len__(self) -> int:
        return len(self.layers)

    def sources(self, index: int) -> tuple[int, ...]:
        """The layers that layer `index` (0-based) reads, 1-based, 0 = the image."""
        return self.inputs[index] if self.inputs else (index,)

    @property
    def outputs(self) -> tuple[int, ...]:
        """The layers (1-based) that no later layer reads: the classifier reads them all."""
        read = {j for i in range(len(self.layers)) for j in self.sources(i)}
        return tuple(i for i in range(1, len(self.layers) + 1) if i not in read)

    def describe(self) -> str:
        """One line for humans: `conv 5x32 pool2 drop0.25 | conv 3x64 pool1 drop0.0`; with skip
        connections each layer says what feeds it: `L1: conv ... | L2 <- L1: ... | L3 <- L1,L2: ...
        | classifier <- L3`."""
        parts = []
        for i in range(len(self.layers)):
            text = self.describe_layer(i)
            if self.inputs:
                sources = self.sources(i)
                text = f"L{i + 1}: {text}" if sources == (0,) else f"L{i + 1} <- {_names(sources)}: {text}"
            parts.append(text)
        if self.inputs:
            parts.append(f"classifier <- {_names(self.outputs)}")
        return " | ".join(parts)

    def describe_layer(self, index: int) -> str:
        """Layer `index` (0-based) alone, by the space's layer_format: `conv 5x32 pool2 drop0.25`."""
        layer = self.layers[index]
        if self.layer_format:
            return self.layer_format.format(**dict(layer))
        return " ".join(f"{name}={value}" for name, value in layer)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"layers": [dict(layer) for layer in self.layers]}
        if self.inputs:
            data["inputs"] = [list(sources) for sources in self.inputs]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], layer_format: str = "") -> Architecture:
        layers = data.get("layers") if isinstance(data, Mapping) else None
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            given = repr(data) if len(repr(data)) <= 80 else f"{repr(data)[:77]}..."
            raise ValueError(f"architecture JSON must be {{'layers': [{{name: value, ...}}, ...]}}, got {given}")
        assert isinstance(data, Mapping)
        unknown = set(data) - {"layers", "inputs"}
        if unknown:
            raise ValueError(f"architecture JSON has unknown key(s) {sorted(unknown)}; expected layers, inputs")
        inputs = data.get("inputs", [])
        if not isinstance(inputs, list) or not all(
                isinstance(sources, list) and all(isinstance(j, int) and not isinstance(j, bool) for j in sources)
                for sources in inputs):
            raise ValueError(f"architecture JSON 'inputs' must be a list of lists of layer numbers, got {inputs!r}")
        return cls(tuple(tuple(layer.items()) for layer in layers), tuple(tuple(s) for s in inputs), layer_format)


def _names(layers: Sequence[int]) -> str:
    return ",".join("image" if j == 0 else f"L{j}" for j in layers)


@dataclass(frozen=True)
class SearchSpace:
    """An ordered table of decisions, made once per layer for up to `max_layers` layers.

    The controller makes the decisions as one flat sequence of categorical steps (`step_names`,
    `num_choices`): first the depth (only if `min_layers < max_layers`), then layer by layer every
    decision in table order, followed, with `skip_connections`, by one yes/no per earlier layer
    ("does L_j feed this layer"). Steps of layers beyond the chosen depth are sampled but unused.
    """

    decisions: tuple[Decision, ...]
    max_layers: int = 2  # the deepest child
    layer_format: str = ""  # describe() template; "" prints name=value pairs
    min_layers: int | None = None  # the shallowest child; None = max_layers (every child that deep)
    skip_connections: bool = False  # True: each layer chooses which earlier layers feed it

    def __post_init__(self) -> None:
        _check(self.max_layers, isinstance(self.max_layers, int) and not isinstance(self.max_layers, bool)
               and self.max_layers >= 1, "max_layers", "an integer >= 1")
        if self.min_layers is None:
            object.__setattr__(self, "min_layers", self.max_layers)
        _check(self.min_layers, isinstance(self.min_layers, int) and not isinstance(self.min_layers, bool)
               and 1 <= self.min_layers <= self.max_layers, "min_layers", f"an integer in 1..max_layers "
               f"({self.max_layers})")
        _check(self.skip_connections, isinstance(self.skip_connections, bool), "skip_connections", "true or false")
        _check(self.decisions, len(self.decisions) >= 1, "decisions", "at least one decision")
        names = [d.name for d in self.decisions]
        for i, decision in enumerate(self.decisions):
            where = f"decisions[{i}]"
            _check(decision.name, isinstance(decision.name, str) and decision.name.isidentifier(),
                   f"{where}.name", "an identifier such as 'filters'")
            _check(decision.name, decision.name not in names[:i], f"{where}.name", "a name used once")
            _check(decision.name, not (self.skip_connections and decision.name.startswith("from_l")),
                   f"{where}.name", "a name not starting with 'from_l' (the skip-connection steps use it)")
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

    # ---- the agent's view: a flat sequence of categorical steps ----

    @property
    def variable_depth(self) -> bool:
        return self._shallowest < self.max_layers

    @property
    def _shallowest(self) -> int:  # min_layers as an int: the constructor has filled it in
        assert self.min_layers is not None
        return self.min_layers

    def _steps(self) -> list[tuple[str, int]]:
        """(name, number of choices) of every controller step, in the order they are sampled."""
        steps = [("depth", self.max_layers - self._shallowest + 1)] if self.variable_depth else []
        for layer in range(1, self.max_layers + 1):
            steps += [(f"l{layer}_{d.name}", len(d.choices)) for d in self.decisions]
            if self.skip_connections:
                steps += [(f"l{layer}_from_l{j}", 2) for j in range(1, layer)]
        return steps

    @property
    def num_choices(self) -> list[int]:
        """Number of choices at each controller step: [depth,] then per layer [n(d0), n(d1), ..., skips]."""
        return [n for _, n in self._steps()]

    @property
    def step_names(self) -> list[str]:
        """A name per controller step, in the order of num_choices: `depth`, `l<layer>_<decision>`,
        `l<layer>_from_l<earlier layer>`; layers are 1-based."""
        return [name for name, _ in self._steps()]

    @property
    def size(self) -> int:
        """How many distinct architectures the space holds."""
        per_layer = math.prod(len(d.choices) for d in self.decisions)
        total = 0
        for depth in range(self._shallowest, self.max_layers + 1):
            count = per_layer ** depth
            if self.skip_connections:  # layer i reads a non-empty set of the i-1 layers before it
                count *= math.prod(2 ** (i - 1) - 1 for i in range(2, depth + 1))
            total += count
        return total

    def decode(self, indices: Sequence[int]) -> Architecture:
        """Choice indices (one per step) -> Architecture. A layer whose skip steps select no
        earlier layer reads the one before it; layers beyond the chosen depth are dropped."""
        steps = self._steps()
        if len(indices) != len(steps):
            raise ValueError(f"expected {len(steps)} choice indices, got {len(indices)}")
        for index, (name, n) in zip(indices, steps, strict=True):
            if not 0 <= int(index) < n:
                raise ValueError(f"choice index {int(index)} out of range for {name!r} (0..{n - 1})")
        position = iter(int(i) for i in indices)
        depth = self._shallowest + next(position) if self.variable_depth else self.max_layers
        layers, inputs = [], []
        for layer in range(1, self.max_layers + 1):
            pairs = tuple((d.name, d.choices[next(position)]) for d in self.decisions)
            chosen = tuple(j for j in range(1, layer) if self.skip_connections and next(position))
            if layer <= depth:
                layers.append(pairs)
                inputs.append(chosen or (layer - 1,))
        return Architecture(tuple(layers), tuple(inputs) if self.skip_connections else (), self.layer_format)

    def encode(self, architecture: Architecture) -> list[int]:
        """Architecture -> choice indices; ValueError naming the first value not in the space.
        Steps that do not matter (layers beyond its depth) are 0, and a layer that reads only the
        one before it says so with that layer's skip step."""
        reasons = self.validate(architecture)
        if reasons:
            raise ValueError(f"architecture not in this search space: {reasons[0]}")
        indices = [len(architecture) - self._shallowest] if self.variable_depth else []
        for layer in range(1, self.max_layers + 1):
            present = layer <= len(architecture)
            values = architecture[layer - 1] if present else {}
            for decision in self.decisions:
                keys = [_key(c) for c in decision.choices]
                indices.append(keys.index(_key(values[decision.name])) if present else 0)
            if self.skip_connections:
                sources = architecture.sources(layer - 1) if present else ()
                indices += [int(j in sources) for j in range(1, layer)]
        return indices

    def used_steps(self, indices: Sequence[int]) -> int:
        """How many of the first steps of `indices` decide its architecture (the rest belong to
        layers beyond the chosen depth)."""
        if not self.variable_depth:
            return len(self.num_choices)
        depth = self._shallowest + int(indices[0])
        per_layer = [len(self.decisions) + (layer - 1 if self.skip_connections else 0)
                     for layer in range(1, self.max_layers + 1)]
        return 1 + sum(per_layer[:depth])

    def step_values(self, architecture: Architecture) -> list[Value | None]:
        """The architecture's value at each controller step (`step_names`): the depth, each
        decision's value, 1 or 0 for each skip step; None for the steps of layers beyond its depth."""
        if not (self.variable_depth or self.skip_connections):
            return [value for layer in architecture.layers for _, value in layer]
        indices = self.encode(architecture)
        used = self.used_steps(indices)
        values: list[Value | None] = []
        for step, (name, index) in enumerate(zip(self.step_names, indices, strict=True)):
            if step >= used:
                values.append(None)
            elif name == "depth":
                values.append(len(architecture))
            elif "_from_l" in name:
                values.append(index)
            else:
                decision = name.split("_", 1)[1]
                values.append(next(d for d in self.decisions if d.name == decision).choices[index])
        return values

    def encodings(self, architecture: Architecture) -> list[list[int]]:
        """Every way the controller can sample `architecture`: the index sequences that decode to it,
        each cut after its used steps (whatever follows them gives the same architecture)."""
        canonical = self.encode(architecture)
        canonical = canonical[:self.used_steps(canonical)]
        # A layer that reads only the previous one may also have selected nothing (which means the same).
        names = self.step_names
        alternatives = [names.index(f"l{i}_from_l{i - 1}") for i in range(2, len(architecture) + 1)
                        if self.skip_connections and architecture.sources(i - 1) == (i - 1,)]
        result = []
        for flips in itertools.product((False, True), repeat=len(alternatives)):
            indices = list(canonical)
            for step, flip in zip(alternatives, flips, strict=True):
                if flip:
                    indices[step] = 0
            result.append(indices)
        return result

    def validate(self, architecture: Architecture) -> list[str]:
        """Reasons why `architecture` is not a member of this space (empty if it is)."""
        reasons = []
        depth = len(architecture.layers)
        if not self._shallowest <= depth <= self.max_layers:
            layers = f"{depth} layer{'' if depth == 1 else 's'}"
            reasons.append(f"has {layers}, the space has {self.max_layers}" if not self.variable_depth
                           else f"has {layers}, the space has {self._shallowest} to {self.max_layers}")
        names = [d.name for d in self.decisions]
        for i, layer in enumerate(architecture.layers):
            values = dict(layer)
            if list(values) != names:
                reasons.append(f"layer {i + 1} has decisions {list(values)}, expected {names}")
                continue
            for decision in self.decisions:
                if _key(values[decision.name]) not in {_key(c) for c in decision.choices}:
                    reasons.append(f"layer {i + 1}: {decision.name}={values[decision.name]!r} is not one of "
                                   f"{list(decision.choices)}")
        if not self.skip_connections and architecture.inputs:
            reasons.append("has skip connections ('inputs'); the space has none")
        elif self.skip_connections and len(architecture.inputs) != depth:
            reasons.append(f"gives the inputs of {len(architecture.inputs)} layers for its {depth}; the space has "
                           "skip connections, so every layer lists the layers that feed it")
        elif self.skip_connections:
            for i, sources in enumerate(architecture.inputs):
                allowed = [0] if i == 0 else list(range(1, i + 1))
                if not sources or list(sources) != sorted(set(sources)) or not set(sources) <= set(allowed):
                    reasons.append(f"layer {i + 1} reads {list(sources)}; it must read a non-empty, ascending list "
                                   f"of {allowed} ({'the image' if i == 0 else 'earlier layers, 1-based'})")
        return reasons

    def parse(self, data: Mapping[str, Any]) -> Architecture:
        """Architecture JSON -> Architecture of this space (checked, with this space's describe format)."""
        # encode() raises if it is not a member; decode() gives the values as the space spells
        # them (0 -> 0.0 for a float decision) and the space's describe() format.
        return self.decode(self.encode(Architecture.from_json(data, self.layer_format)))

    def __iter__(self) -> Iterator[Architecture]:
        """Every architecture of the space once, in index order (use only on small spaces)."""
        for indices in itertools.product(*(range(n) for n in self.num_choices)):
            architecture = self.decode(indices)
            # the one way of writing it that encode() gives
            if self.encode(architecture) == list(indices):
                yield architecture

    # ---- the table as JSON (the --space FILE format) ----

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"max_layers": self.max_layers}
        if self.variable_depth:
            data["min_layers"] = self.min_layers
        if self.skip_connections:
            data["skip_connections"] = True
        data["layer_format"] = self.layer_format
        data["decisions"] = [{"name": d.name, "choices": list(d.choices)} for d in self.decisions]
        return data

    @classmethod
    def from_json(cls, data: Any, source: str = "search space") -> SearchSpace:
        """Build a space from its JSON table; ValueError with one line naming what is wrong."""
        try:
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object with 'decisions', got {type(data).__name__}")
            keys = ["max_layers", "min_layers", "skip_connections", "layer_format", "decisions"]
            unknown = set(data) - set(keys)
            if unknown:
                raise ValueError(f"unknown key(s) {sorted(unknown)}; expected {', '.join(keys)}")
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
            return cls(tuple(decisions), data.get("max_layers", 2), layer_format, data.get("min_layers"),
                       data.get("skip_connections", False))
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    @classmethod
    def load(cls, path: str | Path) -> SearchSpace:
        """Read a space from a JSON file (`--space FILE`)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # as an editor that starts UTF-8 with a BOM saves it too
        except FileNotFoundError:
            raise FileNotFoundError(f"search space file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as err:
            why = getattr(err, "strerror", None) or err  # "Permission denied", not "[Errno 13] ..."
            raise ValueError(f"search space file {path} cannot be read: {why}") from None
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

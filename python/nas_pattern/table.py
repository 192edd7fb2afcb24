"""Table: one measured row per architecture of a small search space, and its file format.

Written by `python -m nas_pattern.bench tabulate`; read by `networks.tabular.TabularNetwork`,
which looks its architecture up in it, so any agent can run thousands of searches in seconds.

File format (CSV): a first line `# nas-pattern table {JSON metadata}` (the search space, the
training budget, seed, device, versions, date, wall time), then a header row and one row per
architecture: its index in the space, its description, one column per controller step
(`SearchSpace.step_names`: `l1_filters`, ...), then the measured columns of `Row`. Read it with
`Table.load`, or with any CSV reader that skips the first line.

A space with variable depth or skip connections is tabulated too: its index is the
architecture's position in `iter(space)`, its step columns are the values of its canonical
encoding (`depth`, each decision's value, 1 or 0 for each `from_l` step), empty for the steps of
layers beyond its depth. A space of fixed depth without skips is numbered by choice index, the
last step varying fastest, which is the same order.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from nas_pattern.data import Dataset, Split
from nas_pattern.files import write_atomically
from nas_pattern.search_space import Architecture, SearchSpace

MAGIC = "# nas-pattern table "


@dataclass(frozen=True)
class Row:
    """What was measured of one architecture."""

    val_accuracy: float
    val_loss: float
    test_accuracy: float
    test_loss: float
    params: int
    train_seconds: float


MEASURED = tuple(f.name for f in fields(Row))


def header(space: SearchSpace) -> list[str]:
    return ["index", "architecture", *space.step_names, *MEASURED]


def _choices(space: SearchSpace, architecture: Architecture) -> list[Any]:
    """The architecture's values in the order of the table's step columns ('' for an unused step)."""
    return ["" if value is None else value for value in space.step_values(architecture)]


@dataclass(frozen=True)
class Table:
    """Every architecture of `space`, measured once (or, while it is being written, some of them)."""

    space: SearchSpace
    rows: Mapping[Architecture, Row]  # a dict, or computed on demand (bench.landscapes.EncodedRows)
    metadata: dict[str, Any]

    @property
    def complete(self) -> bool:
        return len(self.rows) == self.space.size

    @property
    def best(self) -> tuple[Architecture, Row]:
        """The architecture with the highest validation accuracy (the one a search should find)."""
        return max(self.rows.items(), key=lambda item: item[1].val_accuracy)

    def dataset(self) -> Dataset:
        """Placeholder splits for a NASController over this table: a TabularNetwork never looks at
        images, only at which split it is asked to evaluate."""
        def split(name: str) -> Split:
            return Split(torch.zeros(1, 1, 1, 1), torch.zeros(1, dtype=torch.long), name)

        return Dataset(f"table {self.metadata.get('dataset', '')}".strip(), split("train"), split("val"),
                       split("test"), num_classes=int(self.metadata.get("num_classes", 10)))

    def to_text(self) -> str:
        """The table as its file holds it, rows in the space's order."""
        stream = io.StringIO()
        stream.write(MAGIC + json.dumps(self.metadata, sort_keys=True) + "\n")
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header(self.space))
        for index, architecture in enumerate(self.space):
            if architecture in self.rows:
                writer.writerow([index, architecture.describe(), *_choices(self.space, architecture),
                                 *asdict(self.rows[architecture]).values()])
        return stream.getvalue()

    def save(self, path: str | Path) -> None:
        """Write the table atomically (a temporary file, then a rename): never half a file."""
        text = self.to_text().encode()
        write_atomically(Path(path), lambda stream: stream.write(text))

    @classmethod
    def load(cls, path: str | Path, partial: bool = False) -> Table:
        """Read a table; ValueError with one line naming what is wrong. `partial` accepts a table
        that does not (yet) hold every architecture of its space."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"table {path} does not exist; write it with "
                                    "`python -m nas_pattern.bench tabulate`") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"table {path} cannot be read: {getattr(err, 'strerror', None) or err}") from None
        try:
            return cls.parse(text, partial)
        except ValueError as err:
            raise ValueError(f"table {path}: {err}") from None

    @classmethod
    def parse(cls, text: str, partial: bool = False) -> Table:
        first, _, body = text.partition("\n")
        if not first.startswith(MAGIC):
            raise ValueError(f"the first line must be {MAGIC.strip()!r} followed by its JSON metadata")
        try:
            metadata = json.loads(first[len(MAGIC):])
        except json.JSONDecodeError as err:
            raise ValueError(f"the metadata line is not valid JSON: {err}") from None
        if not isinstance(metadata, dict) or "space" not in metadata:
            raise ValueError("the metadata must be a JSON object with the search 'space'")
        space = SearchSpace.from_json(metadata["space"], source="the metadata's space")
        reader = csv.reader(io.StringIO(body))
        columns = next(reader, None)
        if columns != header(space):
            raise ValueError(f"the header row must be {','.join(header(space))}, got {','.join(columns or [])}")
        rows: dict[Architecture, Row] = {}
        for number, record in enumerate(reader, start=3):
            if not record:
                continue
            if len(record) != len(columns):
                raise ValueError(f"line {number} has {len(record)} fields, the header has {len(columns)}")
            rows.update([_parse_record(space, dict(zip(columns, record, strict=True)), number, rows)])
        if not rows:
            raise ValueError("it holds no rows")
        if not partial and len(rows) != space.size:
            raise ValueError(f"it holds {len(rows)} of the {space.size} architectures of its space; finish it "
                             "with `python -m nas_pattern.bench tabulate` (it resumes)")
        return cls(space, rows, metadata)


def _parse_record(space: SearchSpace, record: dict[str, str], number: int,
                  seen: Mapping[Architecture, Row]) -> tuple[Architecture, Row]:
    try:
        index = int(record["index"])
        if not 0 <= index < space.size:
            raise ValueError(f"index {index} is outside the space (0..{space.size - 1})")
        architecture = _architecture(space, index)
        expected = [str(value) for value in _choices(space, architecture)]
        given = [record[c] for c in space.step_names]
        if given != expected:
            raise ValueError(f"its choices {given} are not those of index {index}, {expected}")
        if architecture in seen:
            raise ValueError(f"architecture {index} appears twice")
        values: dict[str, Any] = {}
        for name in MEASURED:
            values[name] = int(record[name]) if name == "params" else float(record[name])
        for name in ("val_accuracy", "test_accuracy"):
            if not 0.0 <= values[name] <= 1.0:
                raise ValueError(f"{name} {values[name]} is not in [0, 1]")
        if values["params"] < 0 or not values["train_seconds"] >= 0 or any(math.isnan(v) for v in values.values()):
            raise ValueError("params and train_seconds must be >= 0 and nothing may be NaN")
    except ValueError as err:
        raise ValueError(f"line {number}: {err}") from None
    return architecture, Row(**values)


def _architecture(space: SearchSpace, index: int) -> Architecture:
    """The index-th architecture of the space in iteration order."""
    if space.variable_depth or space.skip_connections:
        return _listed(space)[index]
    return space.decode(_indices(space, index))


@functools.lru_cache(maxsize=8)
def _listed(space: SearchSpace) -> list[Architecture]:
    return list(space)


def _indices(space: SearchSpace, index: int) -> list[int]:
    """The choice indices of the index-th architecture in iteration order (the last step varies fastest)."""
    indices = []
    for n in reversed(space.num_choices):
        index, choice = divmod(index, n)
        indices.append(choice)
    return indices[::-1]

"""TabularNetwork: a child whose training is free because every architecture was measured before.

It looks its architecture up in a measured `Table` (nas_pattern.table), so any agent can run
thousands of searches in seconds on a CPU. It is also the smallest example of plugging your own
`Network` into the pattern:

    controller = NASController(agent, table.dataset(), network=functools.partial(TabularNetwork, table=table))
"""

from __future__ import annotations

from typing import Any

from nas_pattern.data import Split
from nas_pattern.networks.base import Metrics, Network
from nas_pattern.table import Table


# --8<-- [start:tabular_network]
class TabularNetwork(Network):
    """A Network whose train() costs nothing and whose evaluate() returns the table's measurement."""

    def __init__(self, *args: Any, table: Table, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.table = table
        self._built = False

    def validate(self) -> list[str]:
        if self.architecture not in self.table.rows:
            return [f"{self.architecture.describe()} is not in the table"]
        return []

    def build(self) -> None:
        reasons = self.validate()
        if reasons:
            raise ValueError(f"cannot build: {'; '.join(reasons)}")
        self._built = True

    def train(self, data: Split, epochs: int) -> None:
        if not self._built:
            raise RuntimeError("call build() before train()")

    def evaluate(self, data: Split) -> Metrics:
        if not self._built:
            raise RuntimeError("call build() before evaluate()")
        row = self.table.rows[self.architecture]
        if data.name == "val":
            accuracy, loss = row.val_accuracy, row.val_loss
        elif data.name == "test":
            accuracy, loss = row.test_accuracy, row.test_loss
        else:
            raise ValueError(f"a TabularNetwork knows the 'val' and 'test' splits, not {data.name!r}")
        return Metrics(accuracy=accuracy, loss=loss, params=row.params, train_seconds=row.train_seconds)

    @property
    def layers(self) -> list[str]:
        return [f"{self.architecture.describe()} (measured)"] if self._built else []
# --8<-- [end:tabular_network]

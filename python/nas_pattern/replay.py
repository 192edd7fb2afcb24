"""Replay: how a stopped search continues from its record (the Memento side of a checkpoint).

A checkpoint holds the agent and the random generators as they were before the children of the
current policy update were sampled. A resume restores that state, takes the episodes up to it as
they are, and replays the ones after it: the agent samples them again and is rewarded with their
recorded metrics, never retraining them, which brings it to where it was when they were recorded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from nas_pattern.agents.base import Agent, numpy_state, plain_numpy_state
from nas_pattern.records import Child, Episode


def generators_state() -> dict[str, Any]:
    """The process's random generators (Python, NumPy, torch), as a checkpoint keeps them: numbers
    and a tensor, which torch.load reads weights-only."""
    return {"python": random.getstate(), "numpy": plain_numpy_state(np.random.get_state(legacy=True)),
            "torch": torch.get_rng_state()}


class Replay:
    """The record of a search, to be continued: `restore(agent)` first, then `episode_of(child)`
    for each child the agent samples again, until every recorded episode has been taken
    (NASController.restore walks them)."""

    def __init__(self, recorded: Sequence[Episode], checkpoint: dict[str, Any] | None):
        self.recorded = list(recorded)
        self.checkpoint = checkpoint
        # episodes the checkpoint follows
        self.done = 0 if checkpoint is None else int(checkpoint["episodes"])
        if self.done > len(self.recorded):
            raise ValueError(f"the checkpoint is at episode {self.done} but only {len(self.recorded)} "
                             "episodes are recorded; the run directory is inconsistent")

    def restore(self, agent: Agent) -> list[Episode]:
        """Return the agent and the random generators to the checkpoint; the episodes before it."""
        if self.checkpoint is not None:
            agent.load_state_dict(self.checkpoint["agent"])
            rng = self.checkpoint["rng"]
            random.setstate(rng["python"])
            np.random.set_state(numpy_state(rng["numpy"]))  # its keys an array in checkpoints before 2026-12-08
            torch.set_rng_state(rng["torch"])
        return self.recorded[:self.done]

    def episode_of(self, child: Child) -> Episode:
        """The recorded episode of a child sampled again; ValueError if the agent sampled another
        architecture than the record holds (another version of torch or nas-pattern)."""
        episode = self.recorded[child.number - 1]
        if episode.architecture != child.architecture:
            raise ValueError(f"cannot replay episode {child.number}: the agent sampled "
                             f"{child.architecture.describe()}, the record has "
                             f"{episode.architecture.describe()} (was the run made with another "
                             "version of torch or nas-pattern?)")
        return episode

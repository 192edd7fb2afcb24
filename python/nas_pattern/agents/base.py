"""Agent: the role the search loop talks to, and what every strategy shares.

One strategy per module beside this one, the way Optuna keeps its samplers: `reinforce` (the
pattern's RLAgent), `random_search`, `evolution`, `tpe`. Each docstring below says when the loop
(NASController) calls the method.
"""

from __future__ import annotations

import abc
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace

PROPOSALS = 64  # proposals unseen() takes from a strategy for an architecture not drawn before


@dataclass(frozen=True)
class Sample:
    """What policy() gives out and reward() takes back: the architecture to evaluate, with what the
    agent needs to learn from it. The handle of ask/tell (Optuna's trial): a reward names the sample
    it rewards, so samples may be rewarded in any order."""

    architecture: Architecture
    actions: tuple[int, ...]  # the choice index of each decision, as drawn (REINFORCE's gradient needs them)
    number: int  # the agent's serial number for it, from 1: unique among the samples it has given out


class Agent(abc.ABC):
    """The search loop calls `policy()` once per child, `reward(sample, metrics)` once that child
    is evaluated, and `update_policy()` after every `config.children_per_update` rewards. Each
    sample is rewarded once, before the update that follows it: rewarding one twice, one this agent
    never gave out, or one given out before the last update is a ValueError that says which."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        self.space = space
        self.config = config or AgentConfig()
        self.given = 0  # samples given out so far (the last one's number)
        self.open: dict[int, Sample] = {}  # given out, waiting for their rewards, by number
        self._closed: dict[int, str] = {}  # why a sample given out is no longer open (for the message)
        self.drawn: set[Architecture] = set()  # every architecture given out
        self.drawn_actions: list[list[int]] = []  # the choices each was first given out with, in order

    @abc.abstractmethod
    def policy(self) -> Sample:
        """Sample the next architecture to evaluate: a new handle, from give()."""

    @abc.abstractmethod
    def reward(self, sample: Sample, metrics: Metrics) -> float:
        """Learn `sample`'s metrics (take() checks the handle and scores them); return the reward it
        earns (the advantage, for the RL agents)."""

    @abc.abstractmethod
    def value_function(self) -> float:
        """The baseline: the score (config.objective) the agent expects of its next sample (NaN while it
        has no estimate)."""

    @abc.abstractmethod
    def update_policy(self) -> dict[str, float]:
        """Learn from the rewarded samples since the last call, and close() the ones still open;
        return statistics, with at least `entropy`: the policy's mean entropy per decision,
        normalised to [0, 1] (the RL agents return {} when no sample was rewarded: no step)."""

    def draw(self, rng: random.Random) -> Architecture:
        """An architecture to train shared weights on (weight sharing), drawn with `rng`: not a
        handle (there is nothing to reward), and no change to what policy() gives next. Uniform over
        the space's encodings, single-path one-shot's rule (Guo et al., 2020); the RLAgent draws from
        its policy instead, as ENAS does."""
        return self.space.decode([rng.randrange(n) for n in self.space.num_choices])

    def probability(self, architecture: Architecture) -> float:
        """How likely the next policy() is to sample `architecture` (tests and the guide call it; the
        loop never does). Optional: an agent that cannot say raises NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} cannot say how likely it is to sample an architecture")

    def choice_probabilities(self) -> list[list[float]] | None:
        """How likely the next draw is to take each choice of each decision (per step, one
        probability per choice, summing to 1), for a picture of the policy (TensorBoard, policy.png);
        None for an agent without a distribution to show (evolution's population, TPE's model)."""
        return None

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the agent is (for checkpoints), with
        samples_state()."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Return to a state taken by state_dict(), through load_samples_state()."""

    # ---- the handles, the same for every strategy ----

    def give(self, actions: Sequence[int]) -> Sample:
        """A new sample of these choice indices, open until it is rewarded (policy() returns it)."""
        self.given += 1
        sample = Sample(self.space.decode(actions), tuple(actions), self.given)
        self.open[sample.number] = sample
        if sample.architecture not in self.drawn:
            self.drawn.add(sample.architecture)
            self.drawn_actions.append(list(actions))
        return sample

    def forget(self, architecture: Architecture) -> None:
        """Let `architecture` be drawn again, as if it had never been given out (a resume does so
        for a child that failed for want of time or memory: its new settings may cure that). What
        the agent learned from its reward stays."""
        if architecture in self.drawn:
            self.drawn.remove(architecture)
            self.drawn_actions = [a for a in self.drawn_actions if self.space.decode(a) != architecture]

    # --8<-- [start:unseen]
    def unseen(self, propose: Callable[[], list[int]], rng: random.Random,
               rejected: Callable[[list[int]], None] | None = None) -> list[int]:
        """Choices of an architecture not drawn before (sampling without replacement, as NNI's
        strategies deduplicate): the first of up to PROPOSALS of the strategy's own proposals that
        is new; failing that, a uniform draw among the architectures not drawn yet (uniform over
        the encodings, by rejection with `rng`). Once every architecture has been drawn, the first
        proposal. So the search's budget buys different children, instead of repeats that the
        controller answers from its cache. Each proposal turned down goes to `rejected`, for the
        strategy to learn from the repeat as it did from the cache's answer."""
        actions = propose()
        if len(self.drawn) >= self.space.size:
            return actions
        for attempt in range(PROPOSALS):
            if self.space.decode(actions) not in self.drawn:
                return actions
            if rejected is not None:
                rejected(actions)
            if attempt < PROPOSALS - 1:
                actions = propose()
        while self.space.decode(actions) in self.drawn:
            actions = [rng.randrange(n) for n in self.space.num_choices]
        return actions

    # --8<-- [end:unseen]

    def take(self, sample: Sample, metrics: Metrics) -> float:
        """Close `sample` for its reward and return its score, config.objective(metrics): computed
        here, once per child. ValueError, saying why, if the sample is not open or the metrics are
        not a child's (an accuracy outside [0, 1] or NaN, negative params)."""
        if not isinstance(sample, Sample):
            raise ValueError(f"reward() takes the Sample that policy() returned, got {type(sample).__name__}")
        if self.open.get(sample.number) != sample:
            raise ValueError(self._not_open(sample))
        if not 0 <= metrics.accuracy <= 1 or metrics.params < 0:  # a NaN would poison every reward after it
            raise ValueError(f"cannot reward sample {sample.number} ({sample.architecture.describe()}) with "
                             f"accuracy {metrics.accuracy} and {metrics.params} params: the accuracy is a fraction "
                             "in [0, 1] and the params are a count; the sample stays open")
        del self.open[sample.number]
        self._closed[sample.number] = "rewarded already"
        return self.config.objective(metrics)

    def close(self) -> None:
        """The policy update is here: the samples still open were drawn from the policy before it,
        so none of them may be rewarded after it (update_policy() calls this)."""
        for number in self.open:
            self._closed[number] = "given out before the policy update that followed it, and not rewarded by then"
        self.open.clear()

    def samples_state(self) -> dict[str, Any]:
        """The handles' part of a checkpoint: how many were given out, the open ones' choices, and
        the architectures drawn (one tensor, not a list of lists: the controller copies this state
        before every round)."""
        return {"given": self.given, "open": [[s.number, list(s.actions)] for s in self.open.values()],
                "drawn": torch.tensor(self.drawn_actions, dtype=torch.long).reshape(-1, len(self.space.num_choices))}

    def load_samples_state(self, state: dict[str, Any]) -> None:
        """Back to samples_state(); a checkpoint from before the handles has none open, and one from
        before the draws were kept (RLAgent's before sampling without replacement, the others' before
        they sampled so) none drawn."""
        self.given = int(state.get("given", 0))
        self.open = {int(n): Sample(self.space.decode(a), tuple(a), int(n)) for n, a in state.get("open", [])}
        self._closed = {}
        self.drawn_actions = [list(actions) for actions in torch.as_tensor(state.get("drawn", [])).tolist()]
        self.drawn = {self.space.decode(actions) for actions in self.drawn_actions}

    def _not_open(self, sample: Sample) -> str:
        what = f"sample {sample.number} ({sample.architecture.describe()})"
        if sample.number in self._closed and sample.number not in self.open:
            return f"cannot reward {what}: it was {self._closed[sample.number]}; each sample is rewarded once"
        if 1 <= sample.number <= self.given and sample.number not in self.open:
            return (f"cannot reward {what}: it was rewarded already, or given out before the latest policy "
                    "update; each sample is rewarded once, before the update that follows it")
        return f"cannot reward {what}: this {type(self).__name__} never gave it out (policy() gives the samples)"


def diversity(space: SearchSpace, samples: Sequence[Sequence[int]]) -> float:
    """Mean over decisions of the normalised entropy of the choices in `samples` (1 = all choices
    equally common, 0 = every sample agrees); 1.0 for no samples. The `entropy` that EvolutionAgent
    and TPEAgent report, so the controller's convergence rule reads them like the RL agents."""
    if not samples:
        return 1.0
    total = 0.0
    for t, n in enumerate(space.num_choices):
        if n == 1:
            continue
        counts = [0] * n
        for sample in samples:
            counts[sample[t]] += 1
        total += -sum(c / len(samples) * math.log(c / len(samples)) for c in counts if c) / math.log(n)
    steps = sum(n > 1 for n in space.num_choices)
    return total / steps if steps else 1.0


def plain_numpy_state(state: Any) -> list[Any]:
    """A NumPy RandomState's get_state() as a checkpoint keeps it: plain numbers, its keys a list
    (not an array), which torch.load reads weights-only."""
    name, keys, *rest = state
    return [name, np.asarray(keys).tolist(), *rest]


def numpy_state(plain: Sequence[Any]) -> tuple[Any, ...]:
    """plain_numpy_state()'s list (or get_state()'s tuple) as RandomState.set_state() takes it."""
    name, keys, *rest = plain
    return (name, np.asarray(keys, dtype=np.uint32), *rest)

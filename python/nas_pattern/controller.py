"""NASController: the search loop of the pattern, following its sequence diagram.

agent.policy() -> build the child Network -> train -> evaluate on validation ->
agent.reward(metrics) -> every m children agent.update_policy() -> repeat.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from nas_pattern.agent import Agent
from nas_pattern.data import Dataset
from nas_pattern.executor import (
    Child,
    Executor,
    LocalExecutor,
    NetworkFactory,
    Outcome,
    Worker,
    WorkerSetup,
)
from nas_pattern.networks.base import Metrics, Network
from nas_pattern.networks.cnn import CNN
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import TrainConfig

# What a child that cannot be built or fails earns: accuracy 0, so the agent learns to avoid it.
PENALTY = Metrics(accuracy=0.0, loss=math.inf, params=0, train_seconds=0.0)

# Episode.status of a child that did not produce metrics, by cause.
FAILURES = ("invalid", "error", "oom", "nan", "timeout")


class SearchFailed(RuntimeError):
    """No child of the search produced metrics."""


@dataclass(frozen=True)
class SearchConfig:
    """The budget and stopping rules of a search."""

    episodes: int = 20  # child evaluations (cached and failed children count too)
    epochs: int = 1  # training passes per child
    train_limit: int | None = None  # train each child on the first K training images; None = all
    stop_entropy: float = 0.05  # stop early once the policy's normalised entropy falls below this
    stop_failures: int = 10  # stop after this many children in a row fail (error, oom, nan, timeout)
    child_timeout: float | None = None  # seconds a child may take to build, train and evaluate
    seed: int = 0  # seeds each child's weights and batch order (child k gets seed * 100003 + k)

    def __post_init__(self) -> None:
        for name in ("episodes", "epochs", "stop_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_limit is not None and self.train_limit < 1:
            raise ValueError(f"train limit must be >= 1, got {self.train_limit}")
        if self.child_timeout is not None and not self.child_timeout > 0:
            raise ValueError(f"child timeout must be > 0 seconds, got {self.child_timeout}")


@dataclass(frozen=True)
class Episode:
    """One evaluated child: what was sampled, how it did, what the agent made of it."""

    episode: int  # 1-based position in the search
    architecture: Architecture
    metrics: Metrics | None  # on the validation split; None if the child failed or could not be built
    reward: float  # what agent.reward() returned
    baseline: float  # agent.value_function() just before the reward; NaN before the agent has an estimate
    cached: bool  # True if the architecture was evaluated earlier in this search and not retrained
    seconds: float  # wall time of the episode
    status: str = "ok"  # "ok", or one of FAILURES
    reason: str = ""  # why it failed: the validation reason or the error text
    update: dict[str, float] | None = None  # statistics of the policy update that followed, if any

    @property
    def accuracy(self) -> float:
        return self.metrics.accuracy if self.metrics else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "architecture": self.architecture.to_json(),
            "describe": self.architecture.describe(),
            "metrics": self.metrics.to_json() if self.metrics else None,
            "reward": self.reward,
            "baseline": None if math.isnan(self.baseline) else self.baseline,
            "cached": self.cached,
            "seconds": self.seconds,
            "status": self.status,
            "reason": self.reason,
            "update": self.update,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], space: SearchSpace) -> Episode:
        """An episode as episodes.jsonl holds it (KeyError/ValueError if it is not one)."""
        return cls(
            episode=int(data["episode"]),
            architecture=space.parse(data["architecture"]),
            metrics=Metrics.from_json(data["metrics"]) if data["metrics"] is not None else None,
            reward=float(data["reward"]),
            baseline=math.nan if data["baseline"] is None else float(data["baseline"]),
            cached=bool(data["cached"]),
            seconds=float(data["seconds"]),
            status=str(data["status"]),
            reason=str(data["reason"]),
            update=data["update"],
        )


@dataclass
class SearchResult:
    """What a search found; `test` is filled in by `NASController.final_test()`."""

    best: Episode
    episodes: list[Episode]
    stop_reason: str  # "budget", "converged" (entropy rule), "failures" (stop_failures in a row) or
    # "stopped" (stop() was called)
    seconds: float
    test: Metrics | None = None
    final_epochs: int = 0  # > 0 if the best architecture was retrained on train + validation

    @property
    def converged(self) -> bool:
        return self.stop_reason == "converged"

    @property
    def trained(self) -> list[Episode]:
        """The children that were trained and produced metrics, each architecture once (no cache hits)."""
        return [e for e in self.episodes if e.status == "ok" and not e.cached and e.metrics]

    @property
    def pareto_front(self) -> list[Episode]:
        """The trained children no other is better than in both accuracy and size: fewest parameters
        first, each more accurate than every smaller one (of equals, the earliest)."""
        rows = [(e.metrics.params, -e.accuracy, e.episode, e) for e in self.trained if e.metrics]
        front: list[Episode] = []
        for *_, e in sorted(rows, key=lambda row: row[:3]):
            if not front or e.accuracy > front[-1].accuracy:
                front.append(e)
        return front

    @property
    def counts(self) -> dict[str, int]:
        """Children by outcome; trained + cached + the failures add up to episodes."""
        fresh = [e for e in self.episodes if not e.cached]
        return {
            "episodes": len(self.episodes),
            "trained": sum(e.status == "ok" for e in fresh),
            "cached": len(self.episodes) - len(fresh),
            **{kind: sum(e.status == kind for e in fresh) for kind in FAILURES},
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "best": self.best.to_json(),
            "best_describe": self.best.architecture.describe(),
            "best_val_accuracy": self.best.accuracy,
            "test_accuracy": self.test.accuracy if self.test else None,
            "test_metrics": self.test.to_json() if self.test else None,
            "final_epochs": self.final_epochs,
            "stop_reason": self.stop_reason,
            "seconds": self.seconds,
            **self.counts,
            "pareto_front": [{"episode": e.episode, "val_accuracy": e.accuracy, "params": e.metrics.params,
                              "describe": e.architecture.describe()} for e in self.pareto_front if e.metrics],
        }


class NASController:
    """Drives the search: has an agent (composition, not inheritance), the child network it builds,
    and the executor that trains the children."""

    def __init__(self, agent: Agent, data: Dataset, network: NetworkFactory = CNN,
                 config: SearchConfig | None = None, train_config: TrainConfig | None = None,
                 device: torch.device | str = "cpu", executor: Executor | None = None):
        self.agent = agent
        self.network_factory = network
        self.config = config or SearchConfig()
        self.train_config = train_config or TrainConfig()
        if isinstance(network, type) and issubclass(network, Network):
            network.check_space(agent.space)
        # This process's worker: the data goes to the device once, in the layout the children train in.
        self.worker = Worker(WorkerSetup(network, agent.space, data, self.config, self.train_config,
                                             agent.config.objective), device)
        self.device = self.worker.device
        self.data = self.worker.data
        self.executor = executor or LocalExecutor()
        self.executor.start(self.worker)
        self.history: list[Episode] = []
        self._cache: dict[Architecture, Episode] = {}  # first evaluation of each architecture
        self._callbacks: list[Callable[[Episode], None]] = []
        self._stop = False  # set by stop(), read by search() after each child
        self._drawn: list[Child] = []  # sampled for the current update, not evaluated yet
        self._boundary: dict[str, Any] | None = None  # state_dict() from before they were sampled

    @property
    def network(self) -> Network | None:
        """The child trained most recently in this process."""
        return self.worker.network

    def add_callback(self, callback: Callable[[Episode], None]) -> None:
        """Call `callback(episode)` after each child is evaluated and rewarded (e.g. to record it)."""
        self._callbacks.append(callback)

    def stop(self) -> None:
        """Ask search() to end after the current child (e.g. from a callback); its result is
        "stopped"."""
        self._stop = True

    # ---- the three steps of the pattern ----

    def generate_architecture(self) -> Architecture:
        """Ask the agent for the next child."""
        return self.agent.policy()

    def train_network(self, architecture: Architecture, episode: int | None = None) -> Network:
        """Build the child for `architecture` and train it on the training split, in this process.

        `episode` (default: the next one) fixes the child's seed, so a child can be rebuilt exactly.
        """
        return self.worker.train_network(architecture, len(self.history) + 1 if episode is None else episode)

    def evaluate_network(self) -> Metrics:
        """Metrics of the current child on the validation split (never the test split)."""
        return self.worker.evaluate_network()

    # ---- the loop ----

    # --8<-- [start:search]
    def search(self) -> SearchResult:
        """Run episodes until the budget is spent, the policy has converged, or children keep failing.

        Continues after the episodes already in `history` (see `restore()`).
        """
        start = time.perf_counter()
        stop_reason = "budget"
        self._stop = False
        while len(self.history) < self.config.episodes and stop_reason == "budget":
            for episode in self._update_round():
                self._remember(episode)
                for callback in self._callbacks:
                    callback(episode)
                if self._stop:
                    stop_reason = "stopped"
                elif episode.update and episode.update["entropy"] < self.config.stop_entropy:
                    stop_reason = "converged"
                elif self._failures_in_a_row() >= self.config.stop_failures:
                    stop_reason = "failures"
                if stop_reason != "budget":
                    break
    # --8<-- [end:search]
        valid = [e for e in self.history if e.status == "ok"]
        if not valid:
            kinds = {e.status for e in self.history}
            last = self.history[-1].reason if self.history else ""
            raise SearchFailed(f"none of the {len(self.history)} children produced metrics "
                               f"({', '.join(sorted(kinds))}); the last said: {last}")
        objective = self.agent.config.objective  # the accuracy, or its size-aware form
        best = max(valid, key=lambda e: objective(e.metrics or PENALTY))  # first of equals: the earliest
        return SearchResult(best=best, episodes=list(self.history), stop_reason=stop_reason,
                            seconds=time.perf_counter() - start)

    def final_test(self, result: SearchResult, final_epochs: int = 0) -> SearchResult:
        """Test accuracy of the best architecture: as trained in the search, or retrained on
        train + validation for `final_epochs` epochs when that is > 0."""
        best = Child(result.best.episode, result.best.architecture)
        return replace(result, test=self.executor.test(best, final_epochs), final_epochs=final_epochs)

    # ---- checkpoints ----

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds besides episodes.jsonl: the agent and the random generators, as
        they were before the children of the current update were sampled (a resume samples them
        again and replays the recorded ones)."""
        if self._boundary is not None:
            return self._boundary
        return {
            "episodes": len(self.history),
            "agent": self.agent.state_dict(),
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                    "torch": torch.get_rng_state()},
        }

    def restore(self, recorded: Sequence[Episode], checkpoint: dict[str, Any] | None) -> None:
        """Continue a search from its record: the episodes up to the checkpoint are taken as they
        are; the ones after it are replayed through the agent (sampled again, rewarded with their
        recorded metrics, never retrained), which brings it to where it was when they were recorded.
        """
        done = 0
        if checkpoint is not None:
            done = checkpoint["episodes"]
            if done > len(recorded):
                raise ValueError(f"the checkpoint is at episode {done} but only {len(recorded)} "
                                 "episodes are recorded; the run directory is inconsistent")
            self.agent.load_state_dict(checkpoint["agent"])
            rng = checkpoint["rng"]
            random.setstate(rng["python"])
            np.random.set_state(rng["numpy"])
            torch.set_rng_state(rng["torch"])
        for episode in recorded[:done]:
            self._remember(episode)
        while len(self.history) < len(recorded):
            self._draw(last=max(self.config.episodes, len(recorded)))  # the round as the search drew it
            child = self._drawn.pop(0)
            episode = recorded[child.number - 1]
            if episode.architecture != child.architecture:
                raise ValueError(f"cannot replay episode {child.number}: the agent sampled "
                                 f"{child.architecture.describe()}, the record has "
                                 f"{episode.architecture.describe()} (was the run made with another "
                                 "version of torch or nas-pattern?)")
            self._reward(child, Outcome(episode.status, episode.reason, episode.metrics), episode.cached)
            if not self._drawn:
                self._boundary = None
            self._remember(episode)

    # ---- one policy update ----

    # --8<-- [start:episode]
    def _update_round(self) -> Iterator[Episode]:
        """The children up to the next policy update: sampled together, the new ones run by the
        executor (the others come from the cache), rewarded in the order they were sampled."""
        self._draw()
        children = self._drawn
        new: dict[Architecture, Child] = {}  # first of each architecture not evaluated before
        for child in children:
            if child.architecture not in self._cache:
                new.setdefault(child.architecture, child)
        outcomes = self.executor.run(list(new.values()))
        try:
            for child in list(children):
                cached = child.architecture in self._cache
                if cached:  # evaluated before in this search: reuse, do not retrain
                    first = self._cache[child.architecture]
                    outcome = Outcome(first.status, first.reason, first.metrics)
                else:
                    outcome = next(outcomes)
                self._drawn.remove(child)
                if not self._drawn:
                    self._boundary = None  # the round is complete: checkpoints see the state after it
                yield self._reward(child, outcome, cached)
        finally:
            outcomes.close()

    def _reward(self, child: Child, outcome: Outcome, cached: bool) -> Episode:
        start = time.perf_counter()
        baseline = self.agent.value_function()
        reward = self.agent.reward(outcome.metrics or PENALTY)
        update = None
        if child.number % self.agent.config.children_per_update == 0:
            update = self.agent.update_policy()
        return Episode(child.number, child.architecture, outcome.metrics, reward, baseline, cached=cached,
                       seconds=outcome.seconds + time.perf_counter() - start, status=outcome.status,
                       reason=outcome.reason, update=update)

    # --8<-- [end:episode]
    def _draw(self, last: int | None = None) -> None:
        """Sample the children up to the next policy update (at most to episode `last`, default the
        budget), unless some are still waiting to be evaluated."""
        if self._drawn:
            return
        self._boundary = self.state_dict()
        first = len(self.history) + 1
        m = self.agent.config.children_per_update
        end = min(first + m - 1 - (first - 1) % m, max(first, last or self.config.episodes))
        self._drawn = [Child(n, self.generate_architecture()) for n in range(first, end + 1)]

    def _remember(self, episode: Episode) -> None:
        self.history.append(episode)
        self._cache.setdefault(episode.architecture, episode)

    def _failures_in_a_row(self) -> int:
        count = 0
        for episode in reversed(self.history):
            if episode.status in ("ok", "invalid"):  # invalid children are cheap and teach the agent
                break
            count += 1
        return count

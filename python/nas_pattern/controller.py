"""NASController: the search loop of the pattern, following its sequence diagram.

agent.policy() -> build the child Network -> train -> evaluate on validation ->
agent.reward(metrics) -> every m children agent.update_policy() -> repeat.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from nas_pattern.agent import Agent
from nas_pattern.data import Dataset, Split
from nas_pattern.networks.base import Metrics, Network
from nas_pattern.networks.cnn import CNN
from nas_pattern.search_space import Architecture
from nas_pattern.trainer import TrainConfig

# What a child that cannot be built earns: accuracy 0, so the agent learns to avoid it.
PENALTY = Metrics(accuracy=0.0, loss=math.inf, params=0, train_seconds=0.0)

class InvalidArchitecture(ValueError):
    """The architecture cannot be built for this input; raised before any training."""


# Builds the child for an architecture: a Network subclass, or any callable with its signature.
NetworkFactory = Callable[..., Network]


@dataclass(frozen=True)
class SearchConfig:
    """The budget and stopping rule of a search."""

    episodes: int = 20  # child evaluations (cached and invalid children count too)
    epochs: int = 1  # training passes per child
    train_limit: int | None = None  # train each child on the first K training images; None = all
    stop_entropy: float = 0.05  # stop early once the policy's normalised entropy falls below this
    seed: int = 0  # seeds each child's weights and batch order (child k gets seed * 100003 + k)

    def __post_init__(self) -> None:
        for name in ("episodes", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_limit is not None and self.train_limit < 1:
            raise ValueError(f"train limit must be >= 1, got {self.train_limit}")


@dataclass(frozen=True)
class Episode:
    """One evaluated child: what was sampled, how it did, what the agent made of it."""

    episode: int  # 1-based position in the search
    architecture: Architecture
    metrics: Metrics | None  # on the validation split; None if the child could not be built
    reward: float  # what agent.reward() returned
    baseline: float  # agent.value_function() just before the reward; NaN before the agent has an estimate
    cached: bool  # True if the architecture was evaluated earlier in this search and not retrained
    seconds: float  # wall time of the episode
    status: str = "ok"  # "ok", or "invalid" when the architecture cannot be built
    reason: str = ""  # why it is invalid
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


@dataclass
class SearchResult:
    """What a search found; `test` is filled in by `NASController.final_test()`."""

    best: Episode
    episodes: list[Episode]
    converged: bool  # stopped early by the entropy rule
    seconds: float
    test: Metrics | None = None
    final_epochs: int = 0  # > 0 if the best architecture was retrained on train + validation

    @property
    def counts(self) -> dict[str, int]:
        return {
            "episodes": len(self.episodes),
            "trained": sum(e.status == "ok" and not e.cached for e in self.episodes),
            "cached": sum(e.cached for e in self.episodes),
            "invalid": sum(e.status == "invalid" and not e.cached for e in self.episodes),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "best": self.best.to_json(),
            "best_describe": self.best.architecture.describe(),
            "best_val_accuracy": self.best.accuracy,
            "test_accuracy": self.test.accuracy if self.test else None,
            "test_metrics": self.test.to_json() if self.test else None,
            "final_epochs": self.final_epochs,
            "converged": self.converged,
            "seconds": self.seconds,
            **self.counts,
        }


class NASController:
    """Drives the search: has an agent (composition, not inheritance) and the child network."""

    def __init__(self, agent: Agent, data: Dataset, network: NetworkFactory = CNN,
                 config: SearchConfig | None = None, train_config: TrainConfig | None = None,
                 device: torch.device | str = "cpu"):
        self.agent = agent
        self.data = data
        self.network_factory = network
        self.config = config or SearchConfig()
        self.train_config = train_config or TrainConfig()
        self.device = torch.device(device)
        self.network: Network | None = None  # the child trained most recently
        self.history: list[Episode] = []
        self._cache: dict[Architecture, Episode] = {}  # first evaluation of each architecture
        self._best: tuple[float, Network] | None = None  # validation accuracy and trained best child
        self._callbacks: list[Callable[[Episode], None]] = []
        if isinstance(network, type) and issubclass(network, Network):
            network.check_space(agent.space)

    def add_callback(self, callback: Callable[[Episode], None]) -> None:
        """Call `callback(episode)` after each child is evaluated and rewarded (e.g. to record it)."""
        self._callbacks.append(callback)

    # ---- the three steps of the pattern ----

    def generate_architecture(self) -> Architecture:
        """Ask the agent for the next child."""
        return self.agent.policy()

    def train_network(self, architecture: Architecture) -> Network:
        """Build the child for `architecture` and train it on the training split."""
        network = self._make(architecture, seed=self.config.seed * 100003 + len(self.history) + 1)
        reasons = self.agent.space.validate(architecture) + network.validate()
        if reasons:
            raise InvalidArchitecture(f"cannot build {architecture.describe()}: {'; '.join(reasons)}")
        network.build()
        network.train(self.data.train.head(self.config.train_limit), self.config.epochs)
        self.network = network
        return network

    def evaluate_network(self) -> Metrics:
        """Metrics of the current child on the validation split (never the test split)."""
        if self.network is None:
            raise RuntimeError("evaluate_network() needs train_network() first")
        return self.network.evaluate(self.data.val)

    # ---- the loop ----

    def search(self) -> SearchResult:
        """Run episodes until the budget is spent or the policy has converged."""
        start = time.perf_counter()
        converged = False
        for number in range(1, self.config.episodes + 1):
            episode = self._episode(number)
            self.history.append(episode)
            for callback in self._callbacks:
                callback(episode)
            if episode.update and episode.update["entropy"] < self.config.stop_entropy:
                converged = True
                break
        valid = [e for e in self.history if e.status == "ok"]
        if not valid:
            raise RuntimeError(f"none of the {len(self.history)} children could be built; "
                               "check the search space against the input size")
        best = max(valid, key=lambda e: e.accuracy)  # first of equals: the earliest
        return SearchResult(best=best, episodes=list(self.history), converged=converged,
                            seconds=time.perf_counter() - start)

    def final_test(self, result: SearchResult, final_epochs: int = 0) -> SearchResult:
        """Test accuracy of the best architecture: as trained in the search, or retrained on
        train + validation for `final_epochs` epochs when that is > 0."""
        if final_epochs > 0:
            network = self._make(result.best.architecture, seed=self.config.seed * 100003)
            network.build()
            train_and_val = Split(torch.cat([self.data.train.x, self.data.val.x]),
                                  torch.cat([self.data.train.y, self.data.val.y]))
            network.train(train_and_val, final_epochs)
        else:
            assert self._best is not None, "final_test() needs a search() that trained a child"
            network = self._best[1]
        return replace(result, test=network.evaluate(self.data.test), final_epochs=final_epochs)

    def _episode(self, number: int) -> Episode:
        start = time.perf_counter()
        architecture = self.generate_architecture()
        first = self._cache.get(architecture)
        status, reason, metrics = "ok", "", None
        if first is not None:  # evaluated before in this search: reuse, do not retrain
            status, reason, metrics = first.status, first.reason, first.metrics
        else:
            try:
                network = self.train_network(architecture)
            except InvalidArchitecture as err:  # rejected by validation, before any training
                status, reason = "invalid", str(err)
            else:
                metrics = self.evaluate_network()
                if self._best is None or metrics.accuracy > self._best[0]:
                    self._best = (metrics.accuracy, network)
        baseline = self.agent.value_function()
        reward = self.agent.reward(metrics or PENALTY)
        update = None
        if number % self.agent.config.children_per_update == 0:
            update = self.agent.update_policy()
        episode = Episode(number, architecture, metrics, reward, baseline, cached=first is not None,
                          seconds=time.perf_counter() - start, status=status, reason=reason, update=update)
        self._cache.setdefault(architecture, episode)
        return episode

    def _make(self, architecture: Architecture, seed: int) -> Network:
        return self.network_factory(architecture, self.data.input_shape, self.data.num_classes,
                                    train_config=self.train_config, device=self.device, seed=seed)

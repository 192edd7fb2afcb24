"""NASController: the search loop of the pattern, following its sequence diagram.

agent.policy() -> build the child Network -> train -> evaluate on validation ->
agent.reward(metrics) -> every m children agent.update_policy() -> repeat.
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from nas_pattern.agent import Agent
from nas_pattern.data import Dataset, Split
from nas_pattern.networks.base import Metrics, Network
from nas_pattern.networks.cnn import CNN
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import ChildDiverged, ChildTimeout, TrainConfig, on_device

# What a child that cannot be built or fails earns: accuracy 0, so the agent learns to avoid it.
PENALTY = Metrics(accuracy=0.0, loss=math.inf, params=0, train_seconds=0.0)

# Episode.status of a child that did not produce metrics, by cause.
FAILURES = ("invalid", "error", "oom", "nan", "timeout")


class InvalidArchitecture(ValueError):
    """The architecture cannot be built for this input; raised before any training."""


class SearchFailed(RuntimeError):
    """No child of the search produced metrics."""


# Builds the child for an architecture: a Network subclass, or any callable with its signature.
NetworkFactory = Callable[..., Network]


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
        }


class NASController:
    """Drives the search: has an agent (composition, not inheritance) and the child network."""

    def __init__(self, agent: Agent, data: Dataset, network: NetworkFactory = CNN,
                 config: SearchConfig | None = None, train_config: TrainConfig | None = None,
                 device: torch.device | str = "cpu"):
        self.agent = agent
        self.device = torch.device(device)
        self.network_factory = network
        self.config = config or SearchConfig()
        self.train_config = train_config or TrainConfig()
        # Each split goes to the device, in the layout the children train in, once, not once per child.
        layout = self.train_config.channels_last
        self.data = replace(data, train=on_device(data.train, self.device, layout),
                            val=on_device(data.val, self.device, layout),
                            test=on_device(data.test, self.device, layout))
        self.network: Network | None = None  # the child trained most recently
        self.history: list[Episode] = []
        self._cache: dict[Architecture, Episode] = {}  # first evaluation of each architecture
        self._best: tuple[int, float, Network] | None = None  # episode, accuracy, network of the best
        # child trained by this process (after a restart, earlier ones exist only as records)
        self._callbacks: list[Callable[[Episode], None]] = []
        self._stop = False  # set by stop(), read by search() after each child
        if isinstance(network, type) and issubclass(network, Network):
            network.check_space(agent.space)

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
        """Build the child for `architecture` and train it on the training split.

        `episode` (default: the next one) fixes the child's seed, so a child can be rebuilt exactly.
        """
        number = len(self.history) + 1 if episode is None else episode
        network = self._make(architecture, seed=self.config.seed * 100003 + number)
        reasons = self.agent.space.validate(architecture) + network.validate()
        if reasons:
            raise InvalidArchitecture(f"cannot build {architecture.describe()}: {'; '.join(reasons)}")
        if self.config.child_timeout is not None:
            network.deadline = time.monotonic() + self.config.child_timeout
        self.network = network
        network.build()
        network.train(self.data.train.head(self.config.train_limit), self.config.epochs)
        return network

    def evaluate_network(self) -> Metrics:
        """Metrics of the current child on the validation split (never the test split)."""
        if self.network is None:
            raise RuntimeError("evaluate_network() needs train_network() first")
        metrics = self.network.evaluate(self.data.val)
        if self.network.deadline is not None and time.monotonic() > self.network.deadline:
            raise ChildTimeout(f"took longer than --child-timeout {self.config.child_timeout:g} s")
        return metrics

    # ---- the loop ----

    # --8<-- [start:search]
    def search(self) -> SearchResult:
        """Run episodes until the budget is spent, the policy has converged, or children keep failing.

        Continues after the episodes already in `history` (see `restore()`).
        """
        start = time.perf_counter()
        stop_reason = "budget"
        self._stop = False
        for number in range(len(self.history) + 1, self.config.episodes + 1):
            episode = self._episode(number)
            self._remember(episode)
            for callback in self._callbacks:
                callback(episode)
            if self._stop:
                stop_reason = "stopped"
                break
            if episode.update and episode.update["entropy"] < self.config.stop_entropy:
                stop_reason = "converged"
                break
            if self._failures_in_a_row() >= self.config.stop_failures:
                stop_reason = "failures"
                break
    # --8<-- [end:search]
        valid = [e for e in self.history if e.status == "ok"]
        if not valid:
            kinds = {e.status for e in self.history}
            last = self.history[-1].reason if self.history else ""
            raise SearchFailed(f"none of the {len(self.history)} children produced metrics "
                               f"({', '.join(sorted(kinds))}); the last said: {last}")
        best = max(valid, key=lambda e: e.accuracy)  # first of equals: the earliest
        return SearchResult(best=best, episodes=list(self.history), stop_reason=stop_reason,
                            seconds=time.perf_counter() - start)

    def final_test(self, result: SearchResult, final_epochs: int = 0) -> SearchResult:
        """Test accuracy of the best architecture: as trained in the search, or retrained on
        train + validation for `final_epochs` epochs when that is > 0."""
        if final_epochs > 0:
            network = self._make(result.best.architecture, seed=self.config.seed * 100003)
            network.build()
            train_and_val = Split(torch.cat([self.data.train.x, self.data.val.x]),
                                  torch.cat([self.data.train.y, self.data.val.y]), "train+val")
            network.train(train_and_val, final_epochs)
        elif self._best is not None and self._best[0] == result.best.episode:
            network = self._best[2]
        else:  # trained before a restart: rebuild it from its seed (identical on the CPU)
            network = self.train_network(result.best.architecture, result.best.episode)
        return replace(result, test=network.evaluate(self.data.test), final_epochs=final_epochs)

    # ---- checkpoints ----

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds besides episodes.jsonl: the agent and the random generators."""
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
        for episode in recorded[done:]:
            self._remember(self._episode(episode.episode, recorded=episode))

    # ---- one episode ----

    # --8<-- [start:episode]
    def _episode(self, number: int, recorded: Episode | None = None) -> Episode:
        start = time.perf_counter()
        architecture = self.generate_architecture()
        if recorded is not None:
            if recorded.architecture != architecture:
                raise ValueError(f"cannot replay episode {number}: the agent sampled "
                                 f"{architecture.describe()}, the record has {recorded.architecture.describe()} "
                                 "(was the run made with another version of torch or nas-pattern?)")
            status, reason, metrics = recorded.status, recorded.reason, recorded.metrics
        elif architecture in self._cache:  # evaluated before in this search: reuse, do not retrain
            first = self._cache[architecture]
            status, reason, metrics = first.status, first.reason, first.metrics
        else:
            status, reason, metrics = self._evaluate_child(architecture, number)
        baseline = self.agent.value_function()
        reward = self.agent.reward(metrics or PENALTY)
        update = None
        if number % self.agent.config.children_per_update == 0:
            update = self.agent.update_policy()
        if recorded is not None:
            return recorded
        return Episode(number, architecture, metrics, reward, baseline, cached=architecture in self._cache,
                       seconds=time.perf_counter() - start, status=status, reason=reason, update=update)

    # --8<-- [end:episode]
    def _evaluate_child(self, architecture: Architecture, number: int) -> tuple[str, str, Metrics | None]:
        """Train and evaluate a new child; a failure is returned as its kind and text, never raised."""
        try:
            network = self.train_network(architecture, number)
            metrics = self.evaluate_network()
        except InvalidArchitecture as err:  # rejected by validation, before any training
            return "invalid", str(err), None
        except Exception as err:  # the search goes on; the child is recorded with what went wrong
            self._release()
            return _failure_kind(err), f"{type(err).__name__}: {err}", None
        if self._best is None or metrics.accuracy > self._best[1]:
            self._best = (number, metrics.accuracy, network)
        return "ok", "", metrics

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

    def _release(self) -> None:
        """Let go of a failed child's memory, on the GPU too."""
        self.network = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _make(self, architecture: Architecture, seed: int) -> Network:
        return self.network_factory(architecture, self.data.input_shape, self.data.num_classes,
                                    train_config=self.train_config, device=self.device, seed=seed)


def _failure_kind(error: Exception) -> str:
    if isinstance(error, ChildTimeout):
        return "timeout"
    if isinstance(error, ChildDiverged):
        return "nan"
    if isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower():
        return "oom"
    return "error"

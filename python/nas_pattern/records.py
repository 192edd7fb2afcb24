"""The records of a search: its budget (SearchConfig), each child to run (Child) and what running
it gave (Outcome), each evaluated child as recorded (Episode), and what the search found
(SearchResult), and which of the episodes is the best (Best). Plain data, shared by the controller,
the workers, the run directory and the front-ends.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nas_pattern.networks.base import InvalidArchitecture, Metrics
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.sharing import SharingConfig

__all__ = ["InvalidArchitecture"]  # raised by Network.check(); recorded as "invalid"

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
    # Stop early once the policy's normalised entropy falls below this; 0 (the default) = never: an
    # RLAgent sampling without replacement keeps finding new architectures after it has converged.
    stop_entropy: float = 0.0
    stop_failures: int = 10  # stop after this many children in a row fail (error, oom, nan, timeout)
    child_timeout: float | None = None  # seconds a child may take to build, train and evaluate
    # Seconds search() may run for: it ends with the first child recorded past them (the children of
    # its round still training are dropped, as at stop()); None: no limit. Each search() call counts anew.
    time_limit: float | None = None
    seed: int = 0  # seeds each child's weights and batch order (child k gets seed * 100003 + k)
    # None: each child trained from scratch; else scored with the weights of a supernet they share
    sharing: SharingConfig | None = None

    def __post_init__(self) -> None:
        for name in ("episodes", "epochs", "stop_failures"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_limit is not None and self.train_limit < 1:
            raise ValueError(f"train limit must be >= 1, got {self.train_limit}")
        if self.child_timeout is not None and not self.child_timeout > 0:
            raise ValueError(f"child timeout must be > 0 seconds, got {self.child_timeout}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time limit must be > 0 seconds, got {self.time_limit}")


@dataclass(frozen=True)
class Episode:
    """One evaluated child: what was sampled, how it did, what the agent made of it."""

    episode: int  # 1-based position in the search
    architecture: Architecture
    metrics: Metrics | None  # on the validation split; None if the child failed or could not be built
    reward: float  # what agent.reward() returned
    # agent.value_function() just before the reward; NaN before the agent has an estimate
    baseline: float
    cached: bool  # True if the architecture was evaluated earlier in this search and not retrained
    seconds: float  # wall time of the episode
    status: str = "ok"  # "ok", or one of FAILURES
    reason: str = ""  # why it failed: the validation reason or the error text
    update: dict[str, float] | None = None  # statistics of the policy update that followed, if any
    evaluation: str = "standalone"  # how its metrics were measured: "standalone" (trained) or "shared"

    @property
    def accuracy(self) -> float:
        return self.metrics.accuracy if self.metrics else 0.0

    @property
    def outcome(self) -> Outcome:
        """What running the child gave, as a worker reported it (for the cache and for replay)."""
        return Outcome(self.status, self.reason, self.metrics, evaluation=self.evaluation)

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
            "evaluation": self.evaluation,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], space: SearchSpace) -> Episode:
        """An episode as episodes.jsonl holds it (KeyError/TypeError/ValueError if it is not one:
        what a search never writes is refused, not taken for a child's outcome)."""
        status, metrics = data["status"], data["metrics"]
        if status not in ("ok", *FAILURES):
            raise ValueError(f"status must be ok or one of {', '.join(FAILURES)}, got {status!r}")
        if (metrics is None) == (status == "ok"):  # a trained child has metrics, a failed one none
            raise ValueError(f"a child of status {status} with{'out' if metrics is None else ''} metrics")
        if metrics is not None and not 0 <= metrics["accuracy"] <= 1:
            raise ValueError(f"accuracy must be a fraction in [0, 1], got {metrics['accuracy']!r}")
        evaluation = data.get("evaluation", "standalone")  # records from before weight sharing have none
        if evaluation not in ("standalone", "shared") or not isinstance(data["cached"], bool):
            raise ValueError(f"evaluation must be standalone or shared and cached true or false, got "
                             f"{evaluation!r} and {data['cached']!r}")
        return cls(
            episode=int(data["episode"]),
            architecture=space.parse(data["architecture"]),
            metrics=Metrics.from_json(metrics) if metrics is not None else None,
            reward=float(data["reward"]),
            baseline=math.nan if data["baseline"] is None else float(data["baseline"]),
            cached=data["cached"],
            seconds=float(data["seconds"]),
            status=status,
            reason=str(data["reason"]),
            update=data["update"],
            evaluation=evaluation,
        )


@dataclass
class SearchResult:
    """What a search found; `test` is filled in by `NASController.final_test()`."""

    best: Episode
    episodes: list[Episode]
    stop_reason: str  # "budget", "converged" (entropy rule), "failures" (stop_failures in a row),
    # "time" (SearchConfig.time_limit) or "stopped" (stop() was called)
    seconds: float  # wall time of this search() call: not of the children recorded before it
    recorded_before: int  # children in the history when search() began (a resume's record, or run by hand)
    test: Metrics | None = None
    final_epochs: int = 0  # > 0 if the best architecture was retrained on train + validation
    # With weight sharing, NASController.derive()'s candidates: the best architectures by their shared
    # score, trained from scratch (evaluation "standalone"); `best` is then the best of these.
    derived: list[Episode] = field(default_factory=list)
    # With weight sharing, derive()'s candidates scored again with the final shared weights on the whole
    # validation split, by episode, best first: the score that chose `derived`.
    rescored: dict[int, Metrics] = field(default_factory=dict)
    # With weight sharing, the wall time of NASController.derive(): the candidates' second scoring and
    # their training from scratch, which `seconds` leaves out; 0 without weight sharing.
    derive_seconds: float = 0.0

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
            "derive_seconds": self.derive_seconds,
            "recorded_before": self.recorded_before,
            **self.counts,
            "derived": [e.to_json() for e in self.derived],
            "rescored": [{"episode": n, "val_accuracy": m.accuracy} for n, m in self.rescored.items()],
            "pareto_front": [{"episode": e.episode, "val_accuracy": e.accuracy, "params": e.metrics.params,
                              "describe": e.architecture.describe()} for e in self.pareto_front if e.metrics],
        }


@dataclass(frozen=True)
class Child:
    """One architecture to evaluate, with its place in the search (which also seeds it)."""

    number: int  # 1-based episode number
    architecture: Architecture


@dataclass(frozen=True)
class Outcome:
    """What evaluating a child gave: metrics on the validation split, or why there are none."""

    status: str  # "ok", or one of FAILURES
    reason: str = ""  # why it failed
    metrics: Metrics | None = None
    seconds: float = 0.0  # wall time of building, training and evaluating it
    # The trained module's state_dict on the CPU (the controller keeps the search's best as best.pt);
    # None for a failed child, a child scored with shared weights, and networks without one.
    weights: dict[str, Any] | None = None
    evaluation: str = "standalone"  # "standalone" (trained from scratch) or "shared" (the supernet's slice)


class Best:
    """The best of the episodes offered, by the objective (accuracy, or its size-aware form): the
    one place that says what "best" means. Failed children never are; of equals, the earliest stays."""

    def __init__(self, objective: Callable[[Metrics], float], episodes: Iterable[Episode] = ()):
        self.objective = objective
        self.episode: Episode | None = None
        self.score = -math.inf  # the objective of `episode`
        for episode in episodes:
            self.offer(episode)

    def offer(self, episode: Episode) -> bool:
        """True if `episode` is now the best."""
        if episode.status != "ok" or episode.metrics is None:
            return False
        score = self.objective(episode.metrics)
        if self.episode is not None and score <= self.score:
            return False
        self.episode, self.score = episode, score
        return True


def first_line(error: BaseException) -> str:
    """The first line of an error's message: what a one-line message or a record shows of it."""
    return (str(error).strip().splitlines() or [""])[0]


def counted(count: int, noun: str, plural: str = "") -> str:
    """"1 image", "5,000 images": the count and the noun it takes."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def children_recorded(count: int) -> str:
    """"1 child is recorded", "4 children are recorded": what a search that stopped kept."""
    return f"{counted(count, 'child', 'children')} {'is' if count == 1 else 'are'} recorded"


def resume_command(run_dir: object) -> str:
    """The command that continues the search recorded in `run_dir`, quoted to be pasted into a shell."""
    return f"python -m nas_pattern.run --resume {shlex.quote(str(run_dir))}"


def resume_config(run_dir: object) -> str:
    """The JVM's config that continues the search recorded in `run_dir`: {"resume": "<run_dir>"}."""
    return json.dumps({"resume": str(run_dir)})

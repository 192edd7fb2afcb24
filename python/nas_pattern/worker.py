"""Worker: trains and evaluates children on one device, holding the dataset there once.

The controller has one in its own process (the local executor runs children on it); the Ray
executor runs one per actor. Only architectures and metrics travel to and from a worker. With
weight sharing (SearchConfig.sharing) the worker holds the supernet: it trains the shared weights
between policy updates and scores each child with them instead of training it.
"""

from __future__ import annotations

import contextlib
import gc
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from nas_pattern.data import Dataset, Split
from nas_pattern.memory import MEMORY_SHARE, bound_note, memory_bound
from nas_pattern.networks.base import Metrics, Network, NetworkFactory, TorchNetwork
from nas_pattern.networks.supernet import Supernet
from nas_pattern.records import Child, InvalidArchitecture, Outcome, SearchConfig, SearchFailed, first_line
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.sharing import SharedWeights
from nas_pattern.trainer import ChildDiverged, ChildTimeout, Epoch, TrainConfig, on_device, seeded


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker is built from; the same for every worker of a search."""

    network: NetworkFactory
    space: SearchSpace
    data: Dataset  # as loaded; each worker moves it to its own device once
    config: SearchConfig
    train_config: TrainConfig


class Worker:
    """Trains and evaluates children on one device, with the dataset there once."""

    def __init__(self, setup: WorkerSetup, device: torch.device | str = "cpu", threads: int | None = None,
                 memory_share: float = MEMORY_SHARE):
        if threads is not None:
            torch.set_num_threads(threads)
        self.setup = setup
        self.device = torch.device(device)
        self.memory_share = memory_share  # of the machine's, on a CPU, while a child trains (memory_bound)
        self.data = dataset_on(setup.data, self.device, setup.train_config.channels_last)
        self.network: Network | None = None  # the child trained most recently
        self.shared: SharedWeights | None = None  # the supernet, with weight sharing
        if setup.config.sharing is not None:
            with self._supernet_memory("the supernet of this space cannot be made", ValueError), \
                    seeded(child_seed(setup.config.seed, 0)):  # the shared weights' initial values
                supernet = Supernet.of(setup.network, setup.space, self.data.input_shape, self.data.num_classes)
            self.shared = SharedWeights(supernet, setup.config.sharing, setup.train_config, self.device,
                                        setup.config.seed)

    def train_network(self, architecture: Architecture, number: int) -> Network:
        """Build the child for `architecture` with the seed of episode `number` and train it (with
        weight sharing: slice it out of the supernet)."""
        if self.shared is not None:  # weight sharing: the child is its slice of the supernet, not trained
            self._make(architecture, seed=0).check(self.setup.space)
            self.network = self.shared.supernet.child(architecture, train_config=self.setup.train_config,
                                                      device=self.device)
            return self.network
        with memory_bound(self.device, self.memory_share):  # out of memory: raised, not the OOM killer
            return self._train_alone(architecture, number)

    def _train_alone(self, architecture: Architecture, number: int) -> Network:
        """The child trained from scratch, with the seed of episode `number`."""
        config = self.setup.config
        network = self._make(architecture, seed=child_seed(config.seed, number))
        network.check(self.setup.space)  # InvalidArchitecture: recorded as such, never trained
        if config.child_timeout is not None:
            network.deadline = time.monotonic() + config.child_timeout
        self.network = network
        network.build()
        with self._timed():
            network.train(self.data.train.head(config.train_limit), config.epochs)
        return network

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        """The trainer's ChildTimeout (raised at its deadline, which is all it knows) with the limit
        that was broken, as the check after the fact gives it."""
        try:
            yield
        except ChildTimeout:
            raise self._too_long() from None

    def _too_long(self) -> ChildTimeout:
        return ChildTimeout(f"took longer than --child-timeout {self.setup.config.child_timeout:g} s")

    def evaluate_network(self) -> Metrics:
        """Metrics of the current child on the validation split (never the test split)."""
        if self.network is None:
            raise RuntimeError("evaluate_network() needs train_network() first")
        with memory_bound(self.device, self.memory_share):
            if self.shared is not None:
                return self.shared.score(self.network.architecture, self._scored_on())
            return self._evaluate(self.network)

    def _evaluate(self, network: Network) -> Metrics:
        """A child trained from scratch, on the validation split; ChildTimeout past its deadline."""
        with self._timed():
            metrics = network.evaluate(self.data.val)
        if not isinstance(metrics, Metrics) or not 0 <= metrics.accuracy <= 1:  # a custom Network's, say
            raise ValueError(f"{type(network).__name__}.evaluate() must return Metrics with an accuracy in [0, 1] "
                             f"(a fraction), got {metrics!r}")
        if network.deadline is not None and time.monotonic() > network.deadline:
            raise self._too_long()
        return metrics

    def train_shared(self, steps: int, draw: Callable[[random.Random], Architecture], rng: random.Random) -> float:
        """Train the shared weights for `steps` minibatches of the training split, each through an
        architecture `draw(rng)` gives (one that cannot be built is drawn again); the mean loss."""
        assert self.shared is not None, "train_shared() is for a worker with weight sharing"

        def buildable() -> Architecture:
            for _ in range(1000):
                architecture = draw(rng)
                try:
                    self._make(architecture, seed=0).check(self.setup.space)
                except InvalidArchitecture:
                    continue
                return architecture
            raise InvalidArchitecture("1000 draws in a row could not be built; the space holds too few that can")

        with self._supernet_memory("the supernet's shared training cannot go on", SearchFailed):
            return self.shared.train(self.data.train, steps, buildable)

    def score(self, child: Child) -> Outcome:
        """A child scored with the shared weights, on the first validation images (no training)."""
        assert self.shared is not None
        start, bound = time.perf_counter(), None
        try:
            self._make(child.architecture, seed=0).check(self.setup.space)
            with memory_bound(self.device, self.memory_share) as bound:
                metrics = self.shared.score(child.architecture, self._scored_on())
        except InvalidArchitecture as err:
            return Outcome("invalid", str(err), seconds=time.perf_counter() - start, evaluation="shared")
        except Exception as err:
            return failed(err, bound, time.perf_counter() - start, evaluation="shared")
        return Outcome("ok", metrics=metrics, seconds=time.perf_counter() - start, evaluation="shared")

    def run(self, child: Child) -> Outcome:
        """Train and evaluate a new child, and send back its metrics and weights (the controller
        keeps the best's), or with weight sharing its score; a failure is returned as its kind and
        text, never raised."""
        return self.score(child) if self.shared is not None else self.train_alone(child)

    def train_alone(self, child: Child) -> Outcome:
        """Train `child` from scratch with its episode's seed and evaluate it on the validation
        split, with weight sharing too (the derivation retrains its candidates so); its metrics and
        weights, or its failure's kind and text (never raised). On a CPU the process may not grow
        past memory_bound() meanwhile: a child too large for the machine is recorded as `oom`."""
        start, bound = time.perf_counter(), None
        try:
            with memory_bound(self.device, self.memory_share) as bound:
                network = self._train_alone(child.architecture, child.number)
                metrics = self._evaluate(network)
        except InvalidArchitecture as err:  # rejected by validation, before any training
            return Outcome("invalid", str(err), seconds=time.perf_counter() - start)
        except Exception as err:  # the search goes on; the child is recorded with what went wrong
            self.release()
            return failed(err, bound, time.perf_counter() - start)
        return Outcome("ok", metrics=metrics, seconds=time.perf_counter() - start, weights=weights_of(network))

    def test(self, child: Child, final_epochs: int = 0, weights: dict[str, Any] | None = None,
             resume: dict[str, Any] | None = None, on_epoch: Callable[[Epoch], None] | None = None) -> Outcome:
        """Test metrics of `child`, with the weights tested: retrained on train + validation for
        `final_epochs` epochs when that is > 0 (going on after the epoch whose trainer.Epoch.state()
        is `resume`, if given; `on_epoch` after each epoch), else as trained in the search (`weights`,
        as run() sent them back; without them the child is trained from its seed, identically on the
        CPU: with weight sharing, this is the pick trained stand-alone)."""
        if final_epochs > 0:
            network = self._make(child.architecture, seed=child_seed(self.setup.config.seed, 0))
            network.build()
            if isinstance(network, TorchNetwork):
                network.on_epoch = on_epoch  # progress and checkpoints
                network.resume = resume
            network.train(self.data.train.join(self.data.val, "train+val"), final_epochs)
        elif weights is not None and isinstance(network := self._make(child.architecture, seed=0), TorchNetwork):
            network.build()
            assert network.module is not None
            network.module.load_state_dict(weights)
        else:  # trained before a restart, not a PyTorch module, or scored with shared weights: trained
            network = self._train_alone(child.architecture, child.number)  # (again) from its seed
        return Outcome("ok", metrics=network.evaluate(self.data.test), weights=weights_of(network))

    def release(self) -> None:
        """Let go of a failed child's memory, on the GPU too."""
        self.network = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    @contextlib.contextmanager
    def _supernet_memory(self, doing: str, error: type[Exception]) -> Iterator[None]:
        """The supernet's own work, made or trained, under memory_bound(): out of memory, there is no
        child to record it against, and `error` says what could not be done."""
        bound = None
        try:
            with memory_bound(self.device, self.memory_share) as bound:
                yield
        except (RuntimeError, MemoryError) as err:
            if failure_kind(err) != "oom":
                raise
            raise error(f"{doing}: out of memory{bound_note(bound)}: {first_line(err)}; search a space with "
                        "smaller choices, or without --weight-sharing") from None

    def _scored_on(self) -> Split:
        """The validation images a child is scored on with the shared weights: the first ones."""
        assert self.setup.config.sharing is not None
        return self.data.val.head(self.setup.config.sharing.val_images)

    def _make(self, architecture: Architecture, seed: int) -> Network:
        network = self.setup.network(architecture, self.data.input_shape, self.data.num_classes,
                                     train_config=self.setup.train_config, device=self.device, seed=seed)
        if not isinstance(network, Network):  # a factory function's mistake: said here, not as a missing check()
            raise TypeError(f"the network factory made a {type(network).__name__}, not a nas_pattern Network")
        return network


def child_seed(seed: int, number: int) -> int:
    """The seed of episode `number`'s child in a search seeded `seed` (0: the final retraining);
    children of searches with nearby seeds do not share seeds."""
    return seed * 100003 + number


def failed(error: Exception, bound: int | None, seconds: float, evaluation: str = "standalone") -> Outcome:
    """The outcome of a child that raised `error` under memory_bound()'s `bound`: its kind and text,
    with the bound when it ran out of memory."""
    kind = failure_kind(error)
    reason = f"{type(error).__name__}: {error}{bound_note(bound) if kind == 'oom' else ''}"
    return Outcome(kind, reason, seconds=seconds, evaluation=evaluation)


def failure_kind(error: Exception) -> str:
    if isinstance(error, ChildTimeout):
        return "timeout"
    if isinstance(error, ChildDiverged):
        return "nan"
    text = str(error).lower()  # the CPU allocator's: "DefaultCPUAllocator: can't allocate memory ..."
    if isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in text \
            or "can't allocate memory" in text:
        return "oom"
    return "error"


def weights_of(network: Network) -> dict[str, torch.Tensor] | None:
    """A copy of a PyTorch child's weights on the CPU (what travels back from a Ray worker)."""
    if not isinstance(network, TorchNetwork) or network.module is None:
        return None
    return {name: value.detach().to("cpu", copy=True) for name, value in network.module.state_dict().items()}


def dataset_on(data: Dataset, device: torch.device, channels_last: bool = False) -> Dataset:
    """Every split of `data` on `device` (trainer.on_device: a no-op for a split already there)."""
    return replace(data, train=on_device(data.train, device, channels_last),
                   val=on_device(data.val, device, channels_last), test=on_device(data.test, device, channels_last))

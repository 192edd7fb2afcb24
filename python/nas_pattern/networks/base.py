"""Network: the interface of a child network, and TorchNetwork, its PyTorch implementation.

The controller builds one Network per sampled Architecture, trains it on the training split
and evaluates it on the validation split. Anything that can do those three things can be
searched over: a PyTorch model, a lookup table, a synthetic function in a test.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from nas_pattern import trainer
from nas_pattern.data import Split
from nas_pattern.graphs import Capture
from nas_pattern.search_space import Architecture, SearchSpace, Value
from nas_pattern.trainer import TrainConfig, seeded


@dataclass(frozen=True)
class Metrics:
    """What evaluating a child reports; the agent's reward is computed from it."""

    accuracy: float  # fraction of the evaluated split classified correctly, in [0, 1]
    loss: float  # mean cross-entropy on that split
    params: int  # number of trainable parameters
    train_seconds: float  # wall time spent in train()
    # how its training steps ran: "eager", "cuda graphs", or "eager (CUDA graph capture failed: why)";
    # with "; evaluation eager (CUDA graph capture failed: why)" after it where its evaluation's did
    execution: str = "eager"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metrics:
        return cls(**data)


class InvalidArchitecture(ValueError):
    """The architecture cannot be built for this input; raised before any training."""


class Network(abc.ABC):
    """A child network, built from one Architecture.

    The controller calls, in this order: `validate()` (through check(): reasons it cannot be
    built; skipped children are recorded, never trained), `build()`, `train(train_split, epochs)`
    and `evaluate(val_split)`; at the end of a search, `evaluate(test_split)` on the best one.
    """

    supports_skips: ClassVar[bool] = False  # True: build() wires the architecture's skip connections
    default_space: ClassVar[SearchSpace | None] = None  # what a search explores unless told otherwise

    def __init__(self, architecture: Architecture, input_shape: tuple[int, int, int], num_classes: int, *,
                 train_config: TrainConfig | None = None, device: torch.device | str = "cpu", seed: int = 0):
        self.architecture = architecture
        self.input_shape = input_shape  # (channels, height, width) of one image
        self.num_classes = num_classes
        self.train_config = train_config or TrainConfig()
        self.device = torch.device(device)
        self.seed = seed  # initial weights and batch order derive from it
        self.deadline: float | None = None  # time.monotonic() by which train() and evaluate() should end

    @classmethod
    def check_space(cls, space: SearchSpace) -> None:
        """Called once before a search: raise ValueError if `space` is not one this network can build."""
        if space.skip_connections and not cls.supports_skips:
            raise ValueError(f"the {cls.__name__} network does not build skip connections; use a search space "
                             "without \"skip_connections\" (the CNN builds them)")

    def validate(self) -> list[str]:
        """Called before build(): reasons why this architecture cannot be built for this input (empty = ok)."""
        return []

    def check(self, space: SearchSpace) -> None:
        """Raise InvalidArchitecture with every reason the architecture cannot be built: it is not
        one of `space`'s, or validate() objects. Whoever builds a child checks it once, first (the
        worker for each child of a search, nas_pattern.train for the one it retrains)."""
        reasons = space.validate(self.architecture) + self.validate()
        if reasons:
            raise InvalidArchitecture(f"cannot build: {'; '.join(reasons)}")  # the episode names the architecture

    @abc.abstractmethod
    def build(self) -> None:
        """Called once, after check() found nothing: create the model for `self.architecture`."""

    @abc.abstractmethod
    def train(self, data: Split, epochs: int) -> None:
        """Called once after build(): fit the model on `data` (the training split) for `epochs` passes."""

    @abc.abstractmethod
    def evaluate(self, data: Split) -> Metrics:
        """Called after train(): metrics on `data` (validation during search, test for the final report)."""

    @property
    @abc.abstractmethod
    def layers(self) -> list[str]:
        """The layers of the built model, one readable line each (empty before build())."""


# Builds the child for an architecture: a Network subclass, or any callable with its constructor's signature.
NetworkFactory = Callable[..., Network]

# The decisions a TorchNetwork understands: name -> (test a value must pass, what is expected).
DecisionRules = Mapping[str, tuple[Callable[[Value], bool], str]]


def positive_int(value: Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def probability(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value < 1.0


class TorchNetwork(Network):
    """A Network whose model is an `nn.Module`; subclasses say how to make the module.

    It owns the module rather than being one: `Network.train()` would shadow `nn.Module.train()`.
    """

    decisions: ClassVar[DecisionRules] = {}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.module: nn.Module | None = None
        self.on_epoch: Callable[[trainer.Epoch], None] | None = None  # called after each epoch (trainer.fit)
        self.resume: dict[str, Any] | None = None  # an Epoch's state(): train() goes on after that epoch
        self.capture: Capture | None = None  # replaces the CUDA graph capture (graphs.StepGraphs), for tests
        self._train_seconds = 0.0
        self._execution: str | None = None  # how train() ran its steps (trainer.Fitted.execution)

    @classmethod
    def check_space(cls, space: SearchSpace) -> None:
        super().check_space(space)
        names = {d.name for d in space.decisions}
        missing, unknown = set(cls.decisions) - names, names - set(cls.decisions)
        if missing or unknown:
            wrong = [f"{what} {sorted(which)}" for what, which in (("missing", missing), ("unknown", unknown)) if which]
            raise ValueError(f"the {cls.__name__} search space must have exactly the decisions "
                             f"{sorted(cls.decisions)}; {', '.join(wrong)}")
        for decision in space.decisions:
            test, expected = cls.decisions[decision.name]
            for choice in decision.choices:
                if not test(choice):
                    raise ValueError(f"{cls.__name__} decision {decision.name!r}: choice {choice!r} is not "
                                     f"{expected}")

    @abc.abstractmethod
    def make_module(self) -> nn.Module:
        """The untrained model for `self.architecture`; maps (B, C, H, W) images to (B, classes) logits."""

    def build(self) -> None:
        with seeded(self.seed, self.device):
            self.module = self.make_module().to(self.device)

    def train(self, data: Split, epochs: int) -> None:
        module = self._built()
        batches = trainer.generator(self.seed)  # batch order
        with seeded(self.seed + 1, self.device):  # dropout masks
            fitted = trainer.fit(module, data, epochs, self.train_config, self.device, batches, self.deadline,
                                 self.on_epoch, capture=self.capture, resume=self.resume)
        self._train_seconds += fitted.seconds
        self._execution = fitted.execution

    def evaluate(self, data: Split) -> Metrics:
        accuracy, loss, execution = trainer.evaluate(self._built(), data, self.train_config, self.device,
                                                     self.deadline, capture=self.capture)
        if self._execution is not None:  # how it trained, and how its evaluation failed to capture, if it did
            execution = self._execution + (f"; evaluation {execution}" if "failed" in execution else "")
        return Metrics(accuracy=accuracy, loss=loss, params=self.params, train_seconds=self._train_seconds,
                       execution=execution)

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self._built().parameters() if p.requires_grad)

    @property
    def layers(self) -> list[str]:
        if self.module is None:
            return []
        return [str(m) for m in self.module.modules() if not list(m.children())]

    def _built(self) -> nn.Module:
        if self.module is None:
            raise RuntimeError("call build() before train(), evaluate() or params")
        return self.module

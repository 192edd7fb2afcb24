"""The run's configuration: command-line flags (or the JVM's JSON) become one RunConfig, with the
budgets for the device that will run and the rules for what a resume may change.

Bad input raises ValueError naming the flag and what was expected; the CLI prints that one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import torch

from nas_pattern.agents import AGENTS, REWARDS, AgentConfig, Objective
from nas_pattern.data import DATASETS
from nas_pattern.executor import EXECUTORS, valid_gpu_share
from nas_pattern.networks import NETWORKS
from nas_pattern.precision import cpu_precision
from nas_pattern.records import SearchConfig
from nas_pattern.search_space import SearchSpace
from nas_pattern.trainer import TrainConfig, resolve_device

EXIT_BAD_INPUT = 2  # the exit status of a bad flag


@dataclass(frozen=True)
class Budget:
    """What a search spends when --episodes / --train-limit are not given."""

    episodes: int  # child evaluations
    train_limit: int | None  # training images per child; None = all


# Small enough for a 2-core CPU to finish in under 5 minutes; larger on a GPU.
DEFAULT_BUDGET = {"cpu": Budget(episodes=40, train_limit=5000), "cuda": Budget(episodes=100, train_limit=None)}


@dataclass(frozen=True)
class RunConfig:
    """Everything one run of the CLI was asked to do (config.json and summary.json hold it)."""

    dataset: str = "fashion-mnist"  # one of DATASETS
    data_dir: str | None = None  # None: Debian's Fashion-MNIST directory
    network: str = "cnn"  # "cnn" or "rnn": which child network the architectures describe
    space: str | None = None  # JSON file of the search space; None: the network's default space
    agent: str = "reinforce"  # one of agents.AGENTS
    device: str = "auto"  # auto, cpu or cuda
    run_dir: str = ""  # where the record goes
    final_epochs: int = 0  # > 0: retrain the best on train + validation for the final test
    executor: str = "local"  # one of EXECUTORS: where the children are trained
    # ray: share of a GPU per child; None = 1 if the cluster has GPUs
    gpus_per_child: float | None = None
    ray_address: str | None = None  # ray: "auto" or "ray://host:port"; None = start a local instance
    search: SearchConfig = field(default_factory=SearchConfig)
    agent_config: AgentConfig = field(default_factory=AgentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # TrainConfig.for_device() of the device

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        return cls(**{**data, "search": SearchConfig(**data["search"]),
                      "agent_config": AgentConfig.from_json(data["agent_config"]),
                      "train": TrainConfig(**data["train"])})


# Flags that may differ when resuming: they change how much is spent or where, not what is searched.
RESUMABLE_CHANGES = ("episodes", "final_epochs", "device", "child_timeout", "data_dir", "executor",
                     "gpus_per_child", "ray_address")
# Flags that may not: each with where its value lives in a RunConfig. (--space is compared as a
# table, not a path; --resume and --run-dir name the directory.)
FIXED_ON_RESUME: dict[str, Callable[[RunConfig], Any]] = {
    "dataset": lambda c: c.dataset,
    "network": lambda c: c.network,
    "agent": lambda c: c.agent,
    "seed": lambda c: c.search.seed,
    "children_per_update": lambda c: c.agent_config.children_per_update,
    "epochs": lambda c: c.search.epochs,
    "train_limit": lambda c: c.search.train_limit,
    "reward": lambda c: c.agent_config.objective.reward,
    "target_params": lambda c: c.agent_config.objective.target_params,
    "size_weight": lambda c: c.agent_config.objective.size_weight,
    "deterministic": lambda c: c.train.deterministic,
}


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose error is one line (what is wrong, and "see --help") and exit 2."""

    raise_errors = False  # True: a bad flag raises ValueError (the gateway) instead of exiting (the CLI)

    def error(self, message: str) -> NoReturn:
        if self.raise_errors:
            raise ValueError(message)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind: type, minimum: float, strict: bool = False) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if value < minimum or (strict and value == minimum) or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum}, got {text}")
        return value
    return parse


def build_parser(raise_errors: bool = False) -> argparse.ArgumentParser:
    """Every default is None here, so a resume can tell the flags that were given from the rest."""
    cpu, gpu = DEFAULT_BUDGET["cpu"], DEFAULT_BUDGET["cuda"]
    p = OneLineParser(prog="nas-pattern", description="Neural Architecture Search with Reinforcement Learning: "
                "an LSTM policy samples child networks, trains them, and learns from their "
                "validation accuracy.", allow_abbrev=False)
    p.raise_errors = raise_errors
    p.add_argument("--dataset", choices=DATASETS, help="default: fashion-mnist")
    p.add_argument("--data-dir", help="directory of the dataset files (default for fashion-mnist: "
                   "Debian's /usr/share/datasets/fashion-mnist)")
    p.add_argument("--network", choices=sorted(NETWORKS), help="kind of child network (default: cnn)")
    p.add_argument("--space", metavar="FILE", help="search space as JSON: {\"max_layers\": 2, \"decisions\": "
                   "[{\"name\": \"filters\", \"choices\": [16, 32]}, ...]}, optionally \"min_layers\": 1 (the depth "
                   "becomes a decision) and \"skip_connections\": true (default: the network's own)")
    p.add_argument("--agent", choices=list(AGENTS), help="default: reinforce")
    p.add_argument("--episodes", type=_number(int, 1), metavar="N",
                   help=f"child evaluations (default: {cpu.episodes} on CPU, {gpu.episodes} on GPU)")
    p.add_argument("--children-per-update", type=_number(int, 1), metavar="M",
                   help=f"architectures per policy update (default: {AgentConfig.children_per_update})")
    p.add_argument("--epochs", type=_number(int, 1), metavar="E",
                   help=f"training epochs per child (default: {SearchConfig.epochs})")
    p.add_argument("--train-limit", type=_number(int, 1), metavar="K",
                   help=f"train each child on K training images only (default: {cpu.train_limit} on CPU, "
                   "all on GPU)")
    p.add_argument("--final-epochs", type=_number(int, 0), metavar="N",
                   help="retrain the best architecture on train+validation for N epochs before the "
                   "test (default: 0, test the child as trained during the search)")
    p.add_argument("--child-timeout", type=_number(float, 0, strict=True), metavar="SECONDS",
                   help="a child that takes longer is recorded as a timeout and the search goes on "
                   "(default: no limit)")
    p.add_argument("--reward", choices=REWARDS, help="what the search maximises: accuracy (the default), or "
                   "accuracy-size = accuracy x (params / N) ** W above --target-params N (MnasNet's soft form)")
    p.add_argument("--target-params", type=_number(int, 1), metavar="N", help="with --reward accuracy-size: "
                   "the parameter count above which a child's size costs reward")
    p.add_argument("--size-weight", type=_size_weight, metavar="W", help="with --reward accuracy-size: the "
                   f"exponent above the target (default: {Objective.size_weight}; twice the target then costs "
                   "~5%% of the accuracy)")
    p.add_argument("--seed", type=int, help="seeds the controller and every child (default: 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: auto")
    p.add_argument("--deterministic", action="store_true", default=None,
                   help="on a CUDA GPU, only deterministic algorithms: the same seed gives the same search bit "
                        "for bit, more slowly (the CPU is deterministic without it)")
    p.add_argument("--executor", choices=EXECUTORS, help="where the children of each policy update are "
                   "trained: local (in this process, one at a time; the default) or ray (several at once "
                   "on Ray actors, on this machine or a cluster)")
    p.add_argument("--gpus-per-child", type=_gpu_share, metavar="G", help="with --executor ray: the share "
                   "of a GPU each child gets (0.25 trains four at once on a GPU; 0 trains on CPUs; default: "
                   "1 if the Ray cluster has GPUs, else 0)")
    p.add_argument("--ray-address", metavar="ADDRESS", help="with --executor ray: the cluster to join "
                   "(auto, or ray://host:port); default: start a Ray instance sized to this machine")
    p.add_argument("--run-dir", metavar="DIR", help="where to write the record of the search "
                   "(default: runs/<dataset>-<network>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the search recorded in DIR; flags that "
                   f"may change: {', '.join('--' + f.replace('_', '-') for f in RESUMABLE_CHANGES)}")
    return p


def _gpu_share(text: str) -> float:
    share = _number(float, 0)(text)
    if not valid_gpu_share(share):
        raise argparse.ArgumentTypeError(f"must be 0, a fraction in (0, 1] or a whole number, got {text}")
    return float(share)


def _size_weight(text: str) -> float:
    weight = _number(float, -math.inf)(text)
    if not weight < 0:
        raise argparse.ArgumentTypeError(f"must be a negative number such as -0.07, got {text}")
    return float(weight)


def new_config(args: argparse.Namespace, resuming: bool = False) -> RunConfig:
    """Flags -> RunConfig; budgets left out are filled in for the device that will run."""
    base = RunConfig()
    executor = args.executor or base.executor
    for flag in ("gpus_per_child", "ray_address"):
        # resumed_config checks
        if getattr(args, flag) is not None and executor != "ray" and not resuming:
            raise ValueError(f"--{flag.replace('_', '-')} is for --executor ray; the {executor} executor "
                             "trains the children in this process")
    reward = args.reward or base.agent_config.objective.reward
    if resuming and args.reward is None and (args.target_params or args.size_weight):
        # what those flags are for (resumed_config compares only the flags given)
        reward = "accuracy-size"
    for flag in ("target_params", "size_weight"):
        if getattr(args, flag) is not None and reward != "accuracy-size" and not resuming:
            raise ValueError(f"--{flag.replace('_', '-')} is for --reward accuracy-size; the {reward} reward "
                             "does not weigh size")
    if reward == "accuracy-size" and args.target_params is None and not resuming:
        raise ValueError("--reward accuracy-size needs --target-params N: the size above which reward shrinks")
    device = resolve_device(args.device or base.device)
    budget = DEFAULT_BUDGET[device.type]
    seed = base.search.seed if args.seed is None else args.seed
    dataset, network = args.dataset or base.dataset, args.network or base.network
    search = SearchConfig(
        episodes=args.episodes or budget.episodes,
        epochs=args.epochs or base.search.epochs,
        train_limit=args.train_limit or budget.train_limit,
        child_timeout=args.child_timeout,
        seed=seed,
    )
    agent = args.agent or base.agent
    sized = reward == "accuracy-size"
    objective = Objective(reward=reward, target_params=(args.target_params or 1) if sized else None,
                          size_weight=args.size_weight or base.agent_config.objective.size_weight)
    agent_config = AgentConfig(children_per_update=args.children_per_update or base.agent_config.children_per_update,
                               seed=seed, objective=objective)
    return RunConfig(dataset=dataset, data_dir=args.data_dir, network=network, space=args.space, agent=agent,
                     device=device.type, final_epochs=args.final_epochs or 0, executor=executor,
                     gpus_per_child=args.gpus_per_child, ray_address=args.ray_address, search=search,
                     agent_config=agent_config, train=_train_config(device, network, bool(args.deterministic)),
                     run_dir=args.run_dir or f"runs/{dataset}-{network}-{time.strftime('%Y%m%d-%H%M%S')}")


def _train_config(device: torch.device, network: str, deterministic: bool) -> TrainConfig:
    """TrainConfig.for_device, with the precision "auto" resolves to on this CPU written down, so
    that config.json says how the children were trained and a resume elsewhere trains the same way."""
    config = dataclasses.replace(TrainConfig.for_device(device), deterministic=deterministic)
    if device.type == "cpu" and config.precision == "auto":
        config = dataclasses.replace(config, precision=cpu_precision("conv" if network == "cnn" else "recurrent"))
    return config


def resumed_config(args: argparse.Namespace, stored: RunConfig, stored_space: SearchSpace) -> RunConfig:
    """The stored config with the allowed changes applied; ValueError naming any other difference."""
    if args.run_dir is not None:
        raise ValueError("--resume DIR continues the search in DIR; leave out --run-dir")
    # what the given flags mean (defaults fill the rest, ignored below)
    asked = new_config(args, resuming=True)
    given = {name for name, value in vars(args).items() if value is not None}
    for flag, value_of in FIXED_ON_RESUME.items():
        ours, theirs = value_of(asked), value_of(stored)
        if flag in given and ours != theirs:
            made = "without it" if theirs is None else f"with {theirs}"
            raise ValueError(f"cannot resume {args.resume} with --{flag.replace('_', '-')} {ours}: the search "
                             f"was made {made}; start a new run to change it")
    if "space" in given and SearchSpace.load(args.space) != stored_space:
        raise ValueError(f"cannot resume {args.resume} with --space {args.space}: that space differs from "
                         "the one the search was made with (config.json holds it)")
    mine = {flag for flag in RESUMABLE_CHANGES if flag in given}  # the changes asked for, from `asked`
    search = dataclasses.replace(
        stored.search,
        episodes=(asked if "episodes" in mine else stored).search.episodes,
        child_timeout=(asked if "child_timeout" in mine else stored).search.child_timeout)
    where = asked if "executor" in mine else stored  # the Ray flags go with the executor they are for
    if "executor" not in mine and where.executor != "ray" and {"gpus_per_child", "ray_address"} & mine:
        raise ValueError(f"--gpus-per-child and --ray-address are for --executor ray; {args.resume} was "
                         f"searched with the {where.executor} executor (add --executor ray to change that)")
    return dataclasses.replace(
        stored, search=search, run_dir=args.resume,
        executor=where.executor,
        gpus_per_child=(asked if "gpus_per_child" in mine else where).gpus_per_child,
        ray_address=(asked if "ray_address" in mine else where).ray_address,
        device=(asked if "device" in mine else stored).device,
        data_dir=(asked if "data_dir" in mine else stored).data_dir,
        final_epochs=(asked if "final_epochs" in mine else stored).final_epochs)

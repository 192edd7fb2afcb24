"""The run's configuration: command-line flags (or the JVM's JSON) become one RunConfig, with the
budgets for the device that will run. Every setting is declared once, in SETTINGS: its flag and
JVM key, help text, unit, where it lives in a RunConfig, and whether a resume may change it.
One piece: the table and its three readers (the parser, new_config, resumed_config) change together.

Bad input raises ValueError naming the flag and what was expected; the CLI prints that one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import torch

from nas_pattern.agents import AGENTS, REWARDS, AgentConfig, Objective
from nas_pattern.data import DATASETS
from nas_pattern.executor import EXECUTORS, ray_address_problem, valid_gpu_share
from nas_pattern.networks import NETWORKS
from nas_pattern.precision import cpu_precision
from nas_pattern.records import SearchConfig
from nas_pattern.search_space import SearchSpace
from nas_pattern.sharing import SharingConfig
from nas_pattern.trainer import TrainConfig, resolve_device

EXIT_BAD_INPUT = 2  # the exit status of a bad flag
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM, or its output closed (as a shell reports SIGINT)
EXIT_FAILED = 1  # the work could not be done or recorded (a full disk, a model too large, failing children)
# What a command refuses with one line and EXIT_BAD_INPUT: a bad value, a file that is not there, or
# one this user may not read or write (another user's folder, say)
INPUT_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError, PermissionError)


@dataclass(frozen=True)
class Budget:
    """What a search spends when --episodes / --train-limit are not given."""

    episodes: int  # child evaluations
    train_limit: int | None  # training images per child; None = all
    shared_episodes: int  # child evaluations with --weight-sharing (each a score, not a training run)


# Small enough for a 2-core CPU to finish in under 5 minutes; larger on a GPU.
DEFAULT_BUDGET = {"cpu": Budget(episodes=40, train_limit=5000, shared_episodes=1000),
                  "cuda": Budget(episodes=100, train_limit=None, shared_episodes=1000)}


@dataclass(frozen=True)
class RunConfig:
    """Everything one run of the CLI was asked to do (config.json and summary.json hold it)."""

    dataset: str = "fashion-mnist"  # one of DATASETS
    data_dir: str | None = None  # absolute (new_config makes it so); None: Debian's Fashion-MNIST directory
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
    children_at_once: int = 1  # local: children trained at once, each in a worker process (1: in this one)
    tensorboard: bool = True  # write TensorBoard event files into the run directory (when tensorboard is installed)
    search: SearchConfig = field(default_factory=SearchConfig)
    agent_config: AgentConfig = field(default_factory=AgentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # TrainConfig.for_device() of the device

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        search = data["search"]
        sharing = SharingConfig(**search["sharing"]) if search.get("sharing") else None
        return cls(**{**data, "search": SearchConfig(**{**search, "sharing": sharing}),
                      "agent_config": AgentConfig.from_json(data["agent_config"]),
                      "train": TrainConfig(**data["train"])})


def number(kind: type, minimum: float, strict: bool = False) -> Any:
    """An argparse type: a `kind` (int or float) of at least `minimum` (above it if `strict`), finite."""

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


def duration(text: str) -> float:
    """An argparse type: seconds, or a number of seconds, minutes or hours (90s, 45m, 1.5h), > 0."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration: seconds, or a number with s, m or h (90s, 45m, "
                                         f"1.5h), got {text!r}")
    seconds = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return seconds


def _gpu_share(text: str) -> float:
    share = number(float, 0)(text)
    if not valid_gpu_share(share):
        raise argparse.ArgumentTypeError(f"must be 0, a fraction in (0, 1] or a whole number, got {text}")
    return float(share)


def _ray_address(text: str) -> str:
    """Checked when the flag is read, not when Ray starts: a Ray this process already runs (started by
    an earlier search of a program's) is joined without looking at the address."""
    problem = ray_address_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _size_weight(text: str) -> float:
    weight = number(float, -math.inf)(text)
    if not weight < 0:
        raise argparse.ArgumentTypeError(f"must be a negative number such as -0.07, got {text}")
    return float(weight)


Resume = Literal["fixed", "may change", "names the run"]


@dataclass(frozen=True)
class Setting:
    """One setting of a run, declared once: its name (the flag without its dashes, and the key of
    the JVM's JSON config), its help text, the unit of its value (the flag's metavar), where its
    value lives in a RunConfig, and what a resume may do with it. The CLI's parser, the JVM config
    and the resume checks are all made from SETTINGS."""

    name: str  # "train-limit": --train-limit on the command line, "train-limit" in the JVM config
    help: str
    resume: Resume  # fixed: a resume that asks for another value is refused; may change: it is applied
    at: str | None = None  # the attribute path in RunConfig ("search.train_limit"); None: names the run
    parse: Callable[[str], Any] = str  # the value's parser (argparse's type)
    unit: str | None = None  # what the value counts or names (the metavar: "K", "SECONDS")
    choices: Sequence[str] | None = None
    switch: bool = False  # a flag without a value (true or false in the JVM config)

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return "--" + self.name

    def value(self, config: RunConfig) -> Any:
        """This setting's value in `config`: a switch's is whether it is on (weight sharing: whether
        search.sharing is set); None where a record on the path is (no weight sharing, no steps)."""
        assert self.at is not None, f"{self.flag} has no value in a RunConfig"
        value: Any = config
        for name in self.at.split("."):
            value = None if value is None else getattr(value, name)
        return bool(value) if self.switch else value

    def replaced(self, config: RunConfig, value: Any) -> RunConfig:
        """`config` with this setting's value replaced by `value`."""
        assert self.at is not None, f"{self.flag} has no value in a RunConfig"
        return _replaced(config, self.at.split("."), value)


def _replaced(record: Any, path: list[str], value: Any) -> Any:
    """The dataclass `record` with the attribute at `path` (a list of names) replaced by `value`."""
    inner = value if len(path) == 1 else _replaced(getattr(record, path[0]), path[1:], value)
    return dataclasses.replace(record, **{path[0]: inner})


_CPU, _GPU = DEFAULT_BUDGET["cpu"], DEFAULT_BUDGET["cuda"]
SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", "default: fashion-mnist; folder: images of your own, in --data-dir as train/<class>/ and "
            "test/<class>/ (and val/<class>/, optionally), a folder of image files per class; npz: images of "
            "your own as numpy arrays, --data-dir being the file (train_images, train_labels, test_images, "
            "test_labels)", "fixed", "dataset",
            choices=DATASETS),
    Setting("data-dir", "directory of the dataset files, an npz dataset's file (default for fashion-mnist: "
            "Debian's /usr/share/datasets/fashion-mnist)", "may change", "data_dir"),
    Setting("network", "kind of child network (default: cnn)", "fixed", "network", choices=sorted(NETWORKS)),
    # compared as a table, not a path (resumed_config)
    Setting("space", "search space as JSON: {\"max_layers\": 2, \"decisions\": [{\"name\": \"filters\", "
            "\"choices\": [16, 32]}, ...]}, optionally \"min_layers\": 1 (the depth becomes a decision) and "
            "\"skip_connections\": true (default: the network's own)", "fixed", "space", unit="FILE"),
    Setting("agent", "the search strategy: REINFORCE with a moving-average baseline (reinforce, the default), "
            "with a learned critic too (actor-critic) or with none (reinforce-no-baseline); uniform random "
            "search (random), regularized evolution (evolution) or Optuna's TPE (tpe, needs optuna)",
            "fixed", "agent", choices=list(AGENTS)),
    Setting("episodes", f"child evaluations (default: {_CPU.episodes} on CPU, {_GPU.episodes} on GPU)",
            "may change", "search.episodes", number(int, 1), "N"),
    Setting("children-per-update", f"architectures per policy update (default: {AgentConfig.children_per_update})",
            "fixed", "agent_config.children_per_update", number(int, 1), "M"),
    Setting("epochs", f"training epochs per child (default: {SearchConfig.epochs})", "fixed", "search.epochs",
            number(int, 1), "E"),
    Setting("train-limit", f"train each child on K training images only (default: {_CPU.train_limit} on CPU, "
            "all on GPU)", "fixed", "search.train_limit", number(int, 1), "K"),
    Setting("final-epochs", "retrain the best architecture on all the training and validation images "
            "(--train-limit is the search's) for N epochs before the test (default: 0, test the child as trained "
            "during the search)", "may change", "final_epochs",
            number(int, 0), "N"),
    Setting("child-timeout", "a child that takes longer is recorded as a timeout and the search goes on "
            "(default: no limit)", "may change", "search.child_timeout", number(float, 0, strict=True),
            "SECONDS"),
    Setting("time-limit", "stop starting children once the search has run this long (90s, 45m, 1.5h, or "
            "seconds), then test the best as at the end of the budget (a derivation, --final-epochs: after it); "
            "of the round's other children, those that finished are kept, those still training dropped "
            "(default: no limit; a resume gets it anew)",
            "may change", "search.time_limit", duration, "DURATION"),
    Setting("reward", "what the search maximises: accuracy (the default), or accuracy-size = accuracy x "
            "(params / N) ** W above --target-params N (MnasNet's soft form)", "fixed",
            "agent_config.objective.reward", choices=REWARDS),
    Setting("target-params", "with --reward accuracy-size: the parameter count above which a child's size "
            "costs reward", "fixed", "agent_config.objective.target_params", number(int, 1), "N"),
    Setting("size-weight", f"with --reward accuracy-size: the exponent above the target (default: "
            f"{Objective.size_weight}; twice the target then costs ~5%% of the accuracy)", "fixed",
            "agent_config.objective.size_weight", _size_weight, "W"),
    Setting("seed", "seeds the controller and every child (default: 0)", "fixed", "search.seed", int),
    Setting("weight-sharing", "score each child with the weights of one supernet that all children share and "
            "keep training (ENAS) instead of training it from scratch; the best --derive-top are then trained "
            f"from scratch and the best of them is the product (default budget: {_CPU.shared_episodes} children)",
            "fixed", "search.sharing", switch=True),
    Setting("shared-steps", f"with --weight-sharing: minibatches of shared training before each policy update's "
            f"children (default: {SharingConfig.steps})", "fixed", "search.sharing.steps", number(int, 0), "N"),
    Setting("shared-val-images", f"with --weight-sharing: validation images each child is scored on (default: "
            f"{SharingConfig.val_images})", "fixed", "search.sharing.val_images", number(int, 1), "N"),
    Setting("shared-lr", f"with --weight-sharing: the shared weights' AdamW learning rate (default: "
            f"{SharingConfig.learning_rate:g})", "fixed", "search.sharing.learning_rate",
            number(float, 0, strict=True), "LR"),
    Setting("derive-top", f"with --weight-sharing: how many of the best architectures by shared score are "
            f"trained from scratch at the end (default: {SharingConfig.derive})", "fixed", "search.sharing.derive",
            number(int, 1), "K"),
    Setting("device", "default: auto", "may change", "device", choices=("auto", "cpu", "cuda")),
    Setting("deterministic", "on a CUDA GPU, only deterministic algorithms: the same seed gives the same search "
            "bit for bit, more slowly (the CPU is deterministic without it)", "fixed", "train.deterministic",
            switch=True),
    Setting("executor", "where the children of each policy update are trained: local (in this process, one at "
            "a time; the default) or ray (several at once on Ray actors, on this machine or a cluster)",
            "may change", "executor", choices=EXECUTORS),
    Setting("children-at-once", "with the local executor: train K children of an update at once (K at most "
            "--children-per-update), each in a worker process of its own on the device (default: 1, one at a time "
            "in this process)", "may change",
            "children_at_once", number(int, 1), "K"),
    Setting("no-cuda-graphs", "on a CUDA GPU, run every training step and evaluation pass eagerly instead of "
            "replaying it from a CUDA graph once warm (the default; a child whose capture fails runs eagerly "
            "and its episode says why)", "may change", "train.cuda_graphs", switch=True),
    Setting("gpus-per-child", "with --executor ray: the share of a GPU each child gets (0.25 trains four at "
            "once on a GPU; 0 trains on CPUs; default: 1 if the Ray cluster has GPUs, else 0)", "may change",
            "gpus_per_child", _gpu_share, "G"),
    Setting("ray-address", "with --executor ray: the cluster to join (auto, or ray://host:port); default: "
            "start a Ray instance sized to this machine", "may change", "ray_address", _ray_address, "ADDRESS"),
    Setting("no-tensorboard", "do not write TensorBoard event files into the run directory (a search writes "
            "them by default when the tensorboard package is installed: watch with tensorboard --logdir runs/)",
            "may change", "tensorboard", switch=True),
    Setting("run-dir", "where to write the record of the search: a new or empty folder (default: "
            "runs/<dataset>-<network>-<time>, with -2, -3, ... after it for searches started in the same second)",
            "names the run", unit="DIR"),
)
# The settings a resume may change: they change how much is spent or where, not what is searched.
RESUMABLE_CHANGES = tuple(s.dest for s in SETTINGS if s.resume == "may change")
SETTING = {s.dest: s for s in SETTINGS}  # by argparse's name for it ("train_limit")


class OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose error is one line (what is wrong, and "see --help") and exit 2."""

    raise_errors = False  # True: a bad flag raises ValueError (the gateway) instead of exiting (the CLI)

    def error(self, message: str) -> NoReturn:
        if self.raise_errors:
            raise ValueError(message)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(raise_errors: bool = False) -> argparse.ArgumentParser:
    """The CLI's flags, one per Setting, and --resume. Every default is None here, so a resume
    can tell the flags that were given from the rest."""
    p = OneLineParser(prog="nas-pattern", description="Neural Architecture Search with Reinforcement Learning: "
                      "an LSTM policy samples child networks, trains them, and learns from their "
                      "validation accuracy.", allow_abbrev=False)
    p.raise_errors = raise_errors
    for setting in SETTINGS:
        if setting.switch:
            p.add_argument(setting.flag, action="store_true", default=None, help=setting.help)
        else:
            p.add_argument(setting.flag, type=setting.parse, choices=setting.choices, metavar=setting.unit,
                           help=setting.help)
    p.add_argument("--resume", metavar="DIR", help="continue the search recorded in DIR (a finished one "
                   "with --episodes above its budget); flags that may change: "
                   f"{', '.join(SETTING[f].flag for f in RESUMABLE_CHANGES)}")
    return p


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
    sharing = _sharing_config(args, executor, resuming)
    device = resolve_device(args.device or base.device)
    budget = DEFAULT_BUDGET[device.type]
    seed = base.search.seed if args.seed is None else args.seed
    dataset, network = args.dataset or base.dataset, args.network or base.network
    search = SearchConfig(
        episodes=args.episodes or (budget.episodes if sharing is None else budget.shared_episodes),
        epochs=args.epochs or base.search.epochs,
        train_limit=args.train_limit or budget.train_limit,
        child_timeout=args.child_timeout,
        time_limit=args.time_limit,
        seed=seed,
        sharing=sharing,
    )
    agent = args.agent or base.agent
    sized = reward == "accuracy-size"
    objective = Objective(reward=reward, target_params=(args.target_params or 1) if sized else None,
                          size_weight=args.size_weight or base.agent_config.objective.size_weight)
    agent_config = AgentConfig(children_per_update=args.children_per_update or base.agent_config.children_per_update,
                               seed=seed, objective=objective)
    # absolute, so that a resume or a retraining from another working directory finds the data
    data_dir = os.path.abspath(args.data_dir) if args.data_dir else None
    return RunConfig(dataset=dataset, data_dir=data_dir, network=network, space=args.space, agent=agent,
                     device=device.type, final_epochs=args.final_epochs or 0, executor=executor,
                     gpus_per_child=args.gpus_per_child, ray_address=args.ray_address,
                     children_at_once=args.children_at_once or base.children_at_once,
                     tensorboard=not args.no_tensorboard, search=search,
                     agent_config=agent_config,
                     train=_train_config(device, network, bool(args.deterministic), not args.no_cuda_graphs),
                     run_dir=args.run_dir or f"runs/{dataset}-{network}-{time.strftime('%Y%m%d-%H%M%S')}")


SHARING_FLAGS = {"shared_steps": "steps", "shared_val_images": "val_images", "shared_lr": "learning_rate",
                 "derive_top": "derive"}  # flag -> SharingConfig field


def _sharing_config(args: argparse.Namespace, executor: str, resuming: bool) -> SharingConfig | None:
    """--weight-sharing and its settings -> SharingConfig (None without it); ValueError for a
    setting of it without it, or for an executor, or children at once, that cannot hold one supernet."""
    flags = [flag for flag in SHARING_FLAGS if getattr(args, flag) is not None]
    given = {SHARING_FLAGS[flag]: getattr(args, flag) for flag in flags}
    if resuming:  # resumed_config compares what was given with the stored SharingConfig
        return SharingConfig(**given) if args.weight_sharing or given else None
    if not args.weight_sharing:
        if flags:
            raise ValueError(f"--{flags[0].replace('_', '-')} is for --weight-sharing; without it every child "
                             "is trained from scratch")
        return None
    if executor != "local":
        raise ValueError(f"--weight-sharing trains one supernet in this process: it needs the local executor, "
                         f"not --executor {executor}")
    if (args.children_at_once or 1) > 1:
        raise ValueError("--children-at-once trains children in worker processes; --weight-sharing scores them "
                         "with one supernet in this process, one at a time")
    if given.get("derive", 0) > SharingConfig.rescore:  # the derivation retrains some of what it scores again
        given["rescore"] = given["derive"]
    return SharingConfig(**given)


def _train_config(device: torch.device, network: str, deterministic: bool, cuda_graphs: bool) -> TrainConfig:
    """TrainConfig.for_device, with the precision "auto" resolves to on this CPU written down, so
    that config.json says how the children were trained and a resume elsewhere trains the same way."""
    config = dataclasses.replace(TrainConfig.for_device(device), deterministic=deterministic, cuda_graphs=cuda_graphs)
    if device.type == "cpu" and config.precision == "auto":
        config = dataclasses.replace(config, precision=cpu_precision("conv" if network == "cnn" else "recurrent"))
    return config


def resumed_config(args: argparse.Namespace, stored: RunConfig, stored_space: SearchSpace) -> RunConfig:
    """The stored config with the allowed changes applied (SETTINGS says which); ValueError naming
    any other difference."""
    if args.run_dir is not None:
        raise ValueError("--resume DIR continues the search in DIR; leave out --run-dir")
    # what the given flags mean (defaults fill the rest, ignored below)
    asked = new_config(args, resuming=True)
    given = [SETTING[name] for name, value in vars(args).items() if value is not None and name in SETTING]
    for setting in given:
        if setting.resume != "fixed" or setting.name == "space":  # the space: compared as a table, below
            continue
        ours, theirs = setting.value(asked), setting.value(stored)
        if ours != theirs:
            made = "without it" if theirs is None else f"with {theirs}"
            raise ValueError(f"cannot resume {args.resume} with {setting.flag} {ours}: the search "
                             f"was made {made}; start a new run to change it")
    if args.space is not None and SearchSpace.load(args.space) != stored_space:
        raise ValueError(f"cannot resume {args.resume} with --space {args.space}: that space differs from "
                         "the one the search was made with (config.json holds it)")
    changes = [setting for setting in given if setting.resume == "may change"]
    ray_flags = {"gpus_per_child", "ray_address"}
    if args.executor is None and stored.executor != "ray" and ray_flags & {c.dest for c in changes}:
        raise ValueError(f"--gpus-per-child and --ray-address are for --executor ray; {args.resume} was "
                         f"searched with the {stored.executor} executor (add --executor ray to change that)")
    if args.executor is not None:  # the Ray flags go with the executor they are for
        changes += [SETTING[flag] for flag in sorted(ray_flags)]
    config = dataclasses.replace(stored, run_dir=args.resume)
    for setting in changes:
        config = setting.replaced(config, setting.value(asked))
    return config

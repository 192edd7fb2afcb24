"""`python -m nas_pattern.run`: search for a child architecture from the command line.

Flags become one RunConfig; bad input is answered with one line and exit status 2 before
anything is written; the search then prints one line per child and a summary at the end.
`--resume DIR` continues a search that was stopped or killed, from its run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch
from tqdm import tqdm

from nas_pattern.agent import REWARDS, Agent, AgentConfig, EvolutionAgent, RandomAgent, RLAgent, TPEAgent
from nas_pattern.controller import FAILURES, PENALTY, Episode, NASController, SearchConfig, SearchFailed, SearchResult
from nas_pattern.data import DATASETS, load_dataset
from nas_pattern.executor import EXECUTORS, Executor, LocalExecutor, RayExecutor, valid_gpu_share
from nas_pattern.networks import NETWORKS
from nas_pattern.run_dir import GRAPH_PLOT, PARETO_PLOT, PLOT, Recorder, RunDirectory
from nas_pattern.search_space import DEFAULT_SPACES, SearchSpace
from nas_pattern.trainer import TrainConfig, resolve_device

AGENTS = ("reinforce", "actor-critic", "random", "evolution", "tpe")
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


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
    agent: str = "reinforce"  # one of AGENTS
    device: str = "auto"  # auto, cpu or cuda
    run_dir: str = ""  # where the record goes
    final_epochs: int = 0  # > 0: retrain the best on train + validation for the final test
    executor: str = "local"  # one of EXECUTORS: where the children are trained
    gpus_per_child: float | None = None  # ray: share of a GPU per child; None = 1 if the cluster has GPUs
    ray_address: str | None = None  # ray: "auto" or "ray://host:port"; None = start a local instance
    search: SearchConfig = field(default_factory=SearchConfig)
    agent_config: AgentConfig = field(default_factory=AgentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        return cls(**{**data, "search": SearchConfig(**data["search"]),
                      "agent_config": AgentConfig(**data["agent_config"]), "train": TrainConfig(**data["train"])})


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
    "reward": lambda c: c.agent_config.reward,
    "target_params": lambda c: c.agent_config.target_params,
    "size_weight": lambda c: c.agent_config.size_weight,
}


class _Parser(argparse.ArgumentParser):
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
    p = _Parser(prog="nas-pattern", description="Neural Architecture Search with Reinforcement Learning: "
                "an LSTM controller samples child networks, trains them, and learns from their "
                "validation accuracy.", allow_abbrev=False)
    p.raise_errors = raise_errors
    p.add_argument("--dataset", choices=DATASETS, help="default: fashion-mnist")
    p.add_argument("--data-dir", help="directory of the dataset files (default for fashion-mnist: "
                   "Debian's /usr/share/datasets/fashion-mnist)")
    p.add_argument("--network", choices=sorted(NETWORKS), help="kind of child network (default: cnn)")
    p.add_argument("--space", metavar="FILE", help="search space as JSON: {\"max_layers\": 2, \"decisions\": "
                   "[{\"name\": \"filters\", \"choices\": [16, 32]}, ...]}, optionally \"min_layers\": 1 (the depth "
                   "becomes a decision) and \"skip_connections\": true (default: the network's own)")
    p.add_argument("--agent", choices=AGENTS, help="default: reinforce")
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
                   f"exponent above the target (default: {AgentConfig.size_weight}; twice the target then costs "
                   "~5%% of the accuracy)")
    p.add_argument("--seed", type=int, help="seeds the controller and every child (default: 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: auto")
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
        if getattr(args, flag) is not None and executor != "ray" and not resuming:  # resumed_config checks
            raise ValueError(f"--{flag.replace('_', '-')} is for --executor ray; the {executor} executor "
                             "trains the children in this process")
    reward = args.reward or base.agent_config.reward
    if resuming and args.reward is None and (args.target_params or args.size_weight):
        reward = "accuracy-size"  # what those flags are for (resumed_config compares only the flags given)
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
    agent_config = AgentConfig(children_per_update=args.children_per_update or base.agent_config.children_per_update,
                               seed=seed, baseline="critic" if agent == "actor-critic" else "ema", reward=reward,
                               target_params=(args.target_params or 1) if sized else None,
                               size_weight=args.size_weight or base.agent_config.size_weight)
    return RunConfig(dataset=dataset, data_dir=args.data_dir, network=network, space=args.space, agent=agent,
                     device=device.type, final_epochs=args.final_epochs or 0, executor=executor,
                     gpus_per_child=args.gpus_per_child, ray_address=args.ray_address, search=search,
                     agent_config=agent_config,
                     run_dir=args.run_dir or f"runs/{dataset}-{network}-{time.strftime('%Y%m%d-%H%M%S')}")


def resumed_config(args: argparse.Namespace, stored: RunConfig, stored_space: SearchSpace) -> RunConfig:
    """The stored config with the allowed changes applied; ValueError naming any other difference."""
    if args.run_dir is not None:
        raise ValueError("--resume DIR continues the search in DIR; leave out --run-dir")
    asked = new_config(args, resuming=True)  # what the given flags mean (defaults fill the rest, ignored below)
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


def make_executor(config: RunConfig) -> Executor:
    if config.executor == "ray":
        return RayExecutor(address=config.ray_address, gpus_per_child=config.gpus_per_child,
                           max_workers=config.agent_config.children_per_update)
    return LocalExecutor()


def make_agent(name: str, space: SearchSpace, config: AgentConfig) -> Agent:
    kinds: dict[str, type[Agent]] = {"random": RandomAgent, "evolution": EvolutionAgent, "tpe": TPEAgent}
    return kinds.get(name, RLAgent)(space, config)


class RunFinished(Exception):
    """--resume named a run directory whose search has finished (it holds summary.json)."""


@dataclass
class Search:
    """A search ready to run, built from flags: by main() for the CLI, by the gateway for the JVM."""

    controller: NASController
    config: RunConfig
    run_dir: RunDirectory
    warning: str | None  # what was repaired in the run directory on resume, if anything


def open_search(args: argparse.Namespace) -> Search:
    """Check the flags, load the data, and create (or reopen, with --resume) the run directory.

    Bad input raises ValueError or FileNotFoundError before anything is written.
    """
    if args.resume:
        run_dir = RunDirectory(args.resume)
        stored = run_dir.read_config()
        space = SearchSpace.from_json(stored["space"], source=f"{run_dir.path}/config.json")
        config = resumed_config(args, RunConfig.from_json(stored["config"]), space)
        if run_dir.finished:
            raise RunFinished(f"{run_dir.path} holds a finished search (summary.json); nothing to resume.")
        records, warning = run_dir.read_episodes(space)
        checkpoint = run_dir.read_checkpoint()
    else:
        config = new_config(args)
        space = SearchSpace.load(config.space) if config.space else DEFAULT_SPACES[config.network]
        run_dir = RunDirectory(config.run_dir)
        run_dir.check()
        records, warning, checkpoint = [], None, None
    data = load_dataset(config.dataset, config.data_dir)
    controller = NASController(make_agent(config.agent, space, config.agent_config), data,
                               network=NETWORKS[config.network], config=config.search,
                               train_config=config.train, device=config.device, executor=make_executor(config))
    try:
        if args.resume:
            controller.restore(records, checkpoint)
        else:
            run_dir.create({"config": dataclasses.asdict(config), "space": space.to_json()})
    except BaseException:
        controller.executor.close()
        raise
    return Search(controller, config, run_dir, warning)


def args_from_json(text: str) -> argparse.Namespace:
    """A JSON config read as the CLI reads its flags: the keys are the flags without their dashes
    ("train-limit", or "train_limit"), the values strings or numbers. ValueError if it is bad."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"config is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config must be a JSON object of flags, got {type(data).__name__}: {text[:60]}")
    parser = build_parser(raise_errors=True)
    known = sorted(vars(parser.parse_args([])))
    argv = []
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ValueError(f"unknown config key {key!r}; expected one of: "
                             f"{', '.join(k.replace('_', '-') for k in known)}")
        if isinstance(value, (bool, dict, list)):
            raise ValueError(f"config key {key!r} must be a string or a number, got {json.dumps(value)}")
        if value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        search = open_search(args)
    except RunFinished as done:
        print(done)
        return 0
    except (ValueError, FileNotFoundError) as err:
        print(f"nas-pattern: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if search.warning:
        print(f"nas-pattern: warning: {search.warning}", file=sys.stderr)
    return _search(search)


def _search(search: Search) -> int:
    try:
        return _run(search)
    finally:
        search.controller.executor.close()


def _run(search: Search) -> int:
    controller, config, run_dir = search.controller, search.config, search.run_dir
    space = controller.agent.space
    done, total = len(controller.history), config.search.episodes
    if done:
        print(f"Resuming {run_dir.path}: {done} of {total} children already recorded.")
    print(f"Searching {space.size:,} {config.network.upper()} architectures on {config.dataset} "
          f"({len(controller.data.train):,} train / {len(controller.data.val):,} validation / "
          f"{len(controller.data.test):,} test images) with the {config.agent} agent on "
          f"{controller.executor.describe() or device_name(controller.device)}.")
    print(f"Budget: {total} children, {config.search.epochs} epoch(s) each on "
          f"{config.search.train_limit or len(controller.data.train):,} images, a policy update every "
          f"{config.agent_config.children_per_update}. Recording to {run_dir.path}/")
    progress = tqdm(total=total, initial=done, unit="child", dynamic_ncols=True, file=sys.stdout,
                    disable=not sys.stdout.isatty())  # in a log, the line per child is the progress
    recorder = Recorder(run_dir, controller)

    def show(episode: Episode) -> None:
        progress.write(_episode_line(episode, total))
        progress.update()

    controller.add_callback(show)
    try:
        with _sigterm_as_interrupt():
            result = controller.search()
            progress.close()
            print("Testing the best architecture" + (f" after retraining it for {config.final_epochs} epoch(s) "
                  "on train + validation" if config.final_epochs else "") + " ...")
            result = controller.final_test(result, config.final_epochs)
    except KeyboardInterrupt:
        progress.close()
        recorder.interrupted()
        print(f"\nnas-pattern: interrupted; {len(controller.history)} children are recorded in {run_dir.path}. "
              f"Continue with: python -m nas_pattern.run --resume {run_dir.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SearchFailed as err:
        progress.close()
        print(f"nas-pattern: error: the search stopped: {err}", file=sys.stderr)
        return EXIT_FAILED
    finish(search, result)
    print(_summary(result, run_dir.path, config.agent_config))
    if result.stop_reason == "failures":
        print(f"nas-pattern: error: stopped after {config.search.stop_failures} children in a row failed; "
              f"the last said: {result.episodes[-1].reason}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def finish(search: Search, result: SearchResult) -> None:
    """Write summary.json and search.png for a tested result."""
    search.run_dir.write_summary({**result.to_json(), "config": dataclasses.asdict(search.config),
                                  "device": device_name(search.controller.device), "torch": torch.__version__})
    search.run_dir.plot(result.episodes)
    search.run_dir.plot_pareto(result, search.config.agent_config.target_params)
    search.run_dir.plot_graph(result.best.architecture, f"best architecture (episode {result.best.episode})")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the search the way Ctrl-C does: the record is kept and the run can resume."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _episode_line(e: Episode, total: int) -> str:
    width = len(str(total))
    head = f"[{e.episode:>{width}}/{total}] {e.architecture.describe()}"
    tag = "  (cached)" if e.cached else ""
    if e.status != "ok":
        return f"{head}  {e.status}: {e.reason}{tag}"
    baseline = "n/a" if math.isnan(e.baseline) else f"{e.baseline:.4f}"
    return f"{head}  val {e.accuracy:.4f}  reward {e.reward:+.4f}  baseline {baseline}  {e.seconds:.1f}s{tag}"


def _summary(result: SearchResult, run_dir: Path, agent: AgentConfig) -> str:
    assert result.test is not None
    how = (f"retrained {result.final_epochs} epoch(s) on train + validation" if result.final_epochs
           else "as trained during the search")
    c = result.counts
    failed = {kind: c[kind] for kind in FAILURES if kind != "invalid" and c[kind]}
    children = f"{c['episodes']}: {c['trained']} trained, {c['cached']} cached, {c['invalid']} invalid"
    if failed:
        children += f", {sum(failed.values())} failed (" + ", ".join(f"{n} {k}" for k, n in failed.items()) + ")"
    stop = {"converged": "; stopped early, the policy converged",
            "failures": "; stopped early, children kept failing",
            "stopped": "; stopped early, as asked"}.get(result.stop_reason, "")
    sized = agent.reward == "accuracy-size"
    score = agent.objective
    lines = [
        "",
        f"Best architecture    {result.best.architecture.describe()}",
        f"Validation accuracy  {result.best.accuracy:.4f}   (episode {result.best.episode})",
    ]
    if sized and result.best.metrics:
        lines.append(f"Reward objective     {score(result.best.metrics):.4f}   (accuracy x (params / "
                     f"{agent.target_params:,}) ** {agent.size_weight:g} above {agent.target_params:,} params)")
    lines += [
        f"Test accuracy        {result.test.accuracy:.4f}   ({how})",
        f"Parameters           {result.test.params:,}",
        f"Children             {children}{stop}",
        f"Search time          {result.seconds:.0f} s",
        f"Record               {run_dir}/ (episodes.jsonl, summary.json, {PLOT}, {PARETO_PLOT}, {GRAPH_PLOT})",
        "",
        "Top architectures by " + ("the size-aware objective" if sized else "validation accuracy"),
        f"  {'episode':>7}  {'val acc':>7}  {'params':>9}  {'train s':>7}  " + ("objective  " if sized else "")
        + "architecture",
    ]
    for e in sorted(result.trained, key=lambda e: -score(e.metrics or PENALTY))[:5]:
        lines.append(_row(e) + (f"{score(e.metrics or PENALTY):>9.4f}  " if sized else "")
                     + e.architecture.describe())
    lines += ["", "Pareto front: no other child is both more accurate and smaller",
              f"  {'episode':>7}  {'val acc':>7}  {'params':>9}  {'train s':>7}  architecture"]
    lines += [_row(e) + e.architecture.describe() for e in result.pareto_front]
    return "\n".join(lines)


def _row(e: Episode) -> str:
    assert e.metrics is not None
    return f"  {e.episode:>7}  {e.accuracy:>7.4f}  {e.metrics.params:>9,}  {e.metrics.train_seconds:>7.1f}  "


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


if __name__ == "__main__":
    sys.exit(main())

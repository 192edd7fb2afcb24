"""`python -m nas_pattern.run`: search for a child architecture from the command line.

Flags become one RunConfig; bad input is answered with one line and exit status 2 before
anything is written; the search then prints one line per child and a summary at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch
from tqdm import tqdm

from nas_pattern.agent import Agent, AgentConfig, RandomAgent, RLAgent
from nas_pattern.controller import Episode, NASController, SearchConfig, SearchResult
from nas_pattern.data import DATASETS, load_dataset
from nas_pattern.networks import NETWORKS
from nas_pattern.run_dir import PLOT, RunDirectory
from nas_pattern.search_space import DEFAULT_SPACES, SearchSpace
from nas_pattern.trainer import TrainConfig, resolve_device

AGENTS = ("reinforce", "actor-critic", "random")



@dataclass(frozen=True)
class Budget:
    """What a search spends when --episodes / --train-limit are not given."""

    episodes: int  # child evaluations
    train_limit: int | None  # training images per child; None = all


# Small enough for a 2-core CPU to finish in under 5 minutes; larger on a GPU.
DEFAULT_BUDGET = {"cpu": Budget(episodes=40, train_limit=5000), "cuda": Budget(episodes=100, train_limit=None)}


@dataclass(frozen=True)
class RunConfig:
    """Everything one run of the CLI was asked to do (written to summary.json)."""

    dataset: str = "fashion-mnist"  # one of DATASETS
    data_dir: str | None = None  # None: Debian's Fashion-MNIST directory
    network: str = "cnn"  # "cnn" or "rnn": which child network the architectures describe
    space: str | None = None  # JSON file of the search space; None: the network's default space
    agent: str = "reinforce"  # one of AGENTS
    device: str = "auto"  # auto, cpu or cuda
    run_dir: str | None = None  # None: runs/<dataset>-<network>-<time>
    final_epochs: int = 0  # > 0: retrain the best on train + validation for the final test
    search: SearchConfig = field(default_factory=SearchConfig)
    agent_config: AgentConfig = field(default_factory=AgentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nas-pattern", description="Neural Architecture Search with Reinforcement Learning: "
                "an LSTM controller samples child networks, trains them, and learns from their "
                "validation accuracy.")
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    p.add_argument("--data-dir", help="directory of the dataset files (default for fashion-mnist: "
                   "Debian's /usr/share/datasets/fashion-mnist)")
    p.add_argument("--network", choices=sorted(NETWORKS), default="cnn", help="kind of child network")
    p.add_argument("--space", metavar="FILE", help="search space as JSON: {\"max_layers\": 2, \"decisions\": "
                   "[{\"name\": \"filters\", \"choices\": [16, 32]}, ...]} (default: the network's own)")
    p.add_argument("--agent", choices=AGENTS, default="reinforce")
    p.add_argument("--episodes", type=_count(1), metavar="N",
                   help=f"child evaluations (default: {DEFAULT_BUDGET['cpu'].episodes} on CPU, "
                   f"{DEFAULT_BUDGET['cuda'].episodes} on GPU)")
    p.add_argument("--children-per-update", type=_count(1), default=AgentConfig.children_per_update,
                   metavar="M", help="architectures per policy update (default: %(default)s)")
    p.add_argument("--epochs", type=_count(1), default=SearchConfig.epochs, metavar="E",
                   help="training epochs per child (default: %(default)s)")
    p.add_argument("--train-limit", type=_count(1), metavar="K",
                   help=f"train each child on K training images only (default: "
                   f"{DEFAULT_BUDGET['cpu'].train_limit} on CPU, all on GPU)")
    p.add_argument("--final-epochs", type=_count(0), default=0, metavar="N",
                   help="retrain the best architecture on train+validation for N epochs before the "
                   "test (default: 0, test the child as trained during the search)")
    p.add_argument("--seed", type=int, default=0, help="seeds the controller and every child (default: 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--run-dir", metavar="DIR", help="where to write the record of the search "
                   "(default: runs/<dataset>-<network>-<time>)")
    return p


def parse_config(argv: Sequence[str] | None = None) -> RunConfig:
    """Flags -> RunConfig; budgets left out are filled in for the device that will run."""
    args = build_parser().parse_args(argv)
    device = resolve_device(args.device)
    budget = DEFAULT_BUDGET[device.type]
    search = SearchConfig(
        episodes=args.episodes or budget.episodes,
        epochs=args.epochs,
        train_limit=args.train_limit or budget.train_limit,
        seed=args.seed,
    )
    agent_config = AgentConfig(children_per_update=args.children_per_update, seed=args.seed,
                               baseline="critic" if args.agent == "actor-critic" else "ema")
    run_dir = args.run_dir or f"runs/{args.dataset}-{args.network}-{time.strftime('%Y%m%d-%H%M%S')}"
    return RunConfig(dataset=args.dataset, data_dir=args.data_dir, network=args.network, space=args.space,
                     agent=args.agent, device=device.type, run_dir=run_dir, final_epochs=args.final_epochs,
                     search=search, agent_config=agent_config)


def make_agent(name: str, space: SearchSpace, config: AgentConfig) -> Agent:
    return RandomAgent(space, config) if name == "random" else RLAgent(space, config)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv)
        space = SearchSpace.load(config.space) if config.space else DEFAULT_SPACES[config.network]
        run_dir = RunDirectory(config.run_dir or "")
        run_dir.check()
        data = load_dataset(config.dataset, config.data_dir)
        controller = NASController(make_agent(config.agent, space, config.agent_config), data,
                                   network=NETWORKS[config.network], config=config.search,
                                   train_config=config.train, device=config.device)
        run_dir.create()
    except (ValueError, FileNotFoundError) as err:
        print(f"nas-pattern: error: {err}", file=sys.stderr)
        return 2

    print(f"Searching {space.size:,} {config.network.upper()} architectures on {config.dataset} "
          f"({len(data.train):,} train / {len(data.val):,} validation / {len(data.test):,} test images) "
          f"with the {config.agent} agent on {_device_name(controller.device)}.")
    print(f"Budget: {config.search.episodes} children, {config.search.epochs} epoch(s) each on "
          f"{config.search.train_limit or len(data.train):,} images, a policy update every "
          f"{config.agent_config.children_per_update}. Recording to {run_dir.path}/")
    progress = tqdm(total=config.search.episodes, unit="child", dynamic_ncols=True, file=sys.stdout,
                    disable=not sys.stdout.isatty())  # in a log, the line per child is the progress

    def report(episode: Episode) -> None:
        progress.write(_episode_line(episode, config.search.episodes))
        progress.update()

    controller.add_callback(run_dir.record)
    controller.add_callback(report)
    try:
        result = controller.search()
    except KeyboardInterrupt:
        progress.close()
        print(f"\nInterrupted after {len(controller.history)} children; they are recorded in "
              f"{run_dir.path}/episodes.jsonl", file=sys.stderr)
        return 130
    progress.close()
    print("Testing the best architecture" + (f" after retraining it for {config.final_epochs} epoch(s) "
          "on train + validation" if config.final_epochs else "") + " ...")
    result = controller.final_test(result, config.final_epochs)
    run_dir.write_summary({**result.to_json(), "config": dataclasses.asdict(config),
                           "device": _device_name(controller.device), "torch": torch.__version__})
    run_dir.plot(result.episodes)
    print(_summary(result, run_dir.path))
    return 0


def _episode_line(e: Episode, total: int) -> str:
    width = len(str(total))
    head = f"[{e.episode:>{width}}/{total}] {e.architecture.describe()}"
    if e.status != "ok":
        return f"{head}  invalid: {e.reason}"
    tag = "  (cached)" if e.cached else ""
    baseline = "n/a" if math.isnan(e.baseline) else f"{e.baseline:.4f}"
    return f"{head}  val {e.accuracy:.4f}  reward {e.reward:+.4f}  baseline {baseline}  {e.seconds:.1f}s{tag}"


def _summary(result: SearchResult, run_dir: Path) -> str:
    assert result.test is not None
    how = (f"retrained {result.final_epochs} epoch(s) on train + validation" if result.final_epochs
           else "as trained during the search")
    c = result.counts
    lines = [
        "",
        f"Best architecture    {result.best.architecture.describe()}",
        f"Validation accuracy  {result.best.accuracy:.4f}   (episode {result.best.episode})",
        f"Test accuracy        {result.test.accuracy:.4f}   ({how})",
        f"Parameters           {result.test.params:,}",
        f"Children             {c['episodes']}: {c['trained']} trained, {c['cached']} cached, "
        f"{c['invalid']} invalid" + ("; stopped early, the policy converged" if result.converged else ""),
        f"Search time          {result.seconds:.0f} s",
        f"Record               {run_dir}/ (episodes.jsonl, summary.json, {PLOT})",
        "",
        "Top architectures by validation accuracy",
        f"  {'episode':>7}  {'val acc':>7}  {'params':>9}  {'train s':>7}  architecture",
    ]
    trained = [e for e in result.episodes if e.status == "ok" and not e.cached]  # each architecture once
    for e in sorted(trained, key=lambda e: -e.accuracy)[:5]:
        assert e.metrics is not None
        lines.append(f"  {e.episode:>7}  {e.accuracy:>7.4f}  {e.metrics.params:>9,}  "
                     f"{e.metrics.train_seconds:>7.1f}  {e.architecture.describe()}")
    return "\n".join(lines)


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


if __name__ == "__main__":
    sys.exit(main())

"""bench controller: milliseconds per policy() sample and per update_policy(), and their share of a
child; the same for writing a search's TensorBoard event files."""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from pathlib import Path

import torch

from nas_pattern import board
from nas_pattern.agents import AgentConfig, RLAgent
from nas_pattern.bench import landscapes
from nas_pattern.bench.common import REFERENCE_CNN, build_network, train_images
from nas_pattern.config import SearchConfig
from nas_pattern.controller import NASController
from nas_pattern.data import load_dataset
from nas_pattern.networks import CNN_SPACE, Metrics
from nas_pattern.networks.tabular import TabularNetwork
from nas_pattern.trainer import TrainConfig


def controller_section(args: argparse.Namespace, device: torch.device) -> None:
    m = AgentConfig().children_per_update
    agent = RLAgent(CNN_SPACE, AgentConfig(seed=args.seed))
    policy, update = [], []
    for _ in range(args.updates):
        for _ in range(m):
            start = time.perf_counter()
            sample = agent.policy()
            policy.append(time.perf_counter() - start)
            agent.reward(sample, Metrics(accuracy=0.8, loss=0.5, params=1, train_seconds=1.0))
        start = time.perf_counter()
        agent.update_policy()
        update.append(time.perf_counter() - start)
    per_child = statistics.median(policy) + statistics.median(update) / m
    print(f"controller: the RLAgent's LSTM policy network on the CPU, CNN space ({CNN_SPACE.size:,} architectures), "
          f"m = {m}, {args.updates} updates")
    print(f"  policy() sample       {statistics.median(policy) * 1e3:8.2f} ms (median)")
    print(f"  update_policy()       {statistics.median(update) * 1e3:8.2f} ms (median)")
    limit = train_images(args, device, 10_000)
    child = _child_seconds(args, device, limit)
    print(f"  per child             {per_child * 1e3:8.2f} ms, against {child:.2f} s to train and validate "
          f"the reference CNN on {f'{limit:,}' if limit else 'all'} images: {per_child / child:.3%} of the search")
    if board.available():
        children = m * args.updates
        writing = _tensorboard_seconds(args.seed, children)
        print(f"  TensorBoard per child {writing * 1e3:8.2f} ms (the event files of a {children}-child search "
              f"of the {TABLE} table, every policy picture and best graph drawn): {writing / child:.3%} of that child")
    else:
        print("  TensorBoard per child: not measured, the tensorboard package is not installed")



def _child_seconds(args: argparse.Namespace, device: torch.device, limit: int | None) -> float:
    data = load_dataset("fashion-mnist", args.data_dir)
    network = build_network("CNN", REFERENCE_CNN, TrainConfig.for_device(device), device, args.seed)
    start = time.perf_counter()
    network.train(data.train.head(limit), 1)
    network.evaluate(data.val)
    return time.perf_counter() - start


TABLE = "cnn576"  # the measured table whose search the event files' cost is measured on


def _tensorboard_seconds(seed: int, children: int, rounds: int = 3) -> float:
    """Seconds per child that writing the event files adds to a search: the same seeded search of a
    measured table (children looked up, not trained) with a TensorBoardLog and without, alternated,
    the median of the differences over the children. The same seed gives the same children: the
    log draws nothing from the agent's generator. The log's clock says PICTURE_SECONDS pass between
    readings, so every picture is drawn, as in a search whose children take seconds: the cost per
    child where it is highest (at the table's pace, most pictures would wait and be replaced)."""
    table = landscapes.load(TABLE)

    def search(directory: Path | None) -> float:
        agent = RLAgent(table.space, AgentConfig(seed=seed))
        controller = NASController(agent, table.dataset(), network=functools.partial(TabularNetwork, table=table),
                                   config=SearchConfig(episodes=children, stop_entropy=0.0, seed=seed))
        start = time.perf_counter()
        log = None if directory is None else board.TensorBoardLog(directory, controller, clock=board.every_picture())
        controller.search()
        if log is not None:
            log.close()
        return time.perf_counter() - start

    extra = []
    with tempfile.TemporaryDirectory() as scratch:
        for n in range(rounds):
            without = search(None)
            extra.append(search(Path(scratch) / str(n)) - without)
    return statistics.median(extra) / children

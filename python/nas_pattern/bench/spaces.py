"""bench spaces: what skip connections and depth buy, and what the size-aware reward finds."""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from typing import Any

import torch

from nas_pattern.agents import AgentConfig, Objective, RLAgent
from nas_pattern.bench.common import SEARCH_CPU_TRAIN_LIMIT, train_images
from nas_pattern.controller import NASController
from nas_pattern.data import load_dataset
from nas_pattern.records import Episode, SearchConfig
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import TrainConfig

RICHER_SPACE_FILE = "docs/examples/cnn-skips.json"  # depth 1-4 with skip connections
RICHER_CHILDREN = 24  # child evaluations per search
RICHER_SEEDS = 3  # searches per space (--seeds)
RICHER_TARGETS = (5_000, 20_000)  # parameter targets of the size-aware reward


def spaces_section(args: argparse.Namespace, device: torch.device) -> None:
    """Best accuracy at a fixed number of real children with and without skips and depth; then
    the size of what the size-aware reward finds for two targets."""
    richer = SearchSpace.load(RICHER_SPACE_FILE)
    plain = replace(richer, min_layers=2, max_layers=2, skip_connections=False)
    depth_only = replace(richer, skip_connections=False)
    limit = train_images(args, device, SEARCH_CPU_TRAIN_LIMIT)
    data = load_dataset("fashion-mnist", args.data_dir)
    seeds = range(args.seed, args.seed + (args.seeds or RICHER_SEEDS))
    print(f"spaces: REINFORCE, {RICHER_CHILDREN} children per search, {args.epochs} epoch(s) on "
          f"{limit or len(data.train):,} images each, validation on {len(data.val):,}, seeds "
          f"{seeds.start}..{seeds.stop - 1}; the decisions of {RICHER_SPACE_FILE} in every space")

    def searches(space: SearchSpace, **reward: Any) -> list[Episode]:
        best = []
        for seed in seeds:
            agent = RLAgent(space, AgentConfig(children_per_update=4, seed=seed, objective=Objective(**reward)))
            config = SearchConfig(episodes=RICHER_CHILDREN, epochs=args.epochs, train_limit=limit,
                                  stop_entropy=0.0, seed=seed)
            best.append(NASController(agent, data, config=config, train_config=TrainConfig.for_device(device),
                                      device=device).search().best)
        return best

    print(f"  {'space':<34} {'architectures':>13} {'best val (mean +- sd)':>21} {'params of best':>15} "
          f"{'depth':>5}  {'skips':>5}")
    rows: list[tuple[str, SearchSpace, dict[str, Any]]] = [
        ("2 layers, no skips", plain, {}), ("depth 1-4, no skips", depth_only, {}),
        ("depth 1-4 with skips", richer, {})]
    rows += [(f"depth 1-4 with skips, target {t:,}", richer, {"reward": "accuracy-size", "target_params": t})
             for t in RICHER_TARGETS]
    for label, space, reward in rows:
        start = time.perf_counter()
        best = searches(space, **reward)
        accuracy = [e.accuracy for e in best]
        params = sorted(e.metrics.params for e in best if e.metrics)
        skips = sum(_skips(e.architecture) for e in best)
        print(f"  {label:<34} {space.size:>13,} {statistics.mean(accuracy):>11.4f} +- "
              f"{statistics.pstdev(accuracy):.4f} {statistics.median(params):>15,.0f} "
              f"{statistics.mean(len(e.architecture) for e in best):>5.1f}  {skips / len(best):>5.1f}"
              f"   ({time.perf_counter() - start:.0f} s; params of each best: {', '.join(f'{p:,}' for p in params)})")


def _skips(architecture: Architecture) -> int:
    """Connections other than layer to next layer: skips between layers, and extra classifier inputs."""
    between = sum(j != i for i in range(len(architecture)) for j in architecture.sources(i))
    return between + len(architecture.outputs) - 1

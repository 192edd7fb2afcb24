"""`bench sharing-search`: weight sharing against training from scratch, search against search.

Per seed, three searches of the default CNN space on this machine:
- the default search, every child trained from scratch (REINFORCE, the CLI's default budget);
- REINFORCE with shared weights, given the same wall time;
- random search with shared weights, the same.

A shared-weight search is stopped when what it has spent, plus what its derivation will cost,
reaches the from-scratch search's wall time (DerivationPrice: the second scoring of the
architectures best so far by shared score on the whole validation split, and the training from
scratch of the best SharingConfig.derive of them, each at the from-scratch search's seconds for a
child of its multiply-adds); the derivation then trains its best from scratch at the budget a
from-scratch child gets (1 epoch on the CLI's default training images), so every pick is tested
after one common budget. Printed per search: its wall time, the architectures it evaluated and its
pick's test accuracy; then the means over seeds with 95% intervals.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nas_pattern.bench.common import mean_t95
from nas_pattern.config import build_parser
from nas_pattern.networks.base import TorchNetwork
from nas_pattern.records import Episode
from nas_pattern.search_space import Architecture
from nas_pattern.session import open_search
from nas_pattern.sharing import SharingConfig

SEEDS = 5  # searches of each kind; the seeds are 1..SEEDS (the defaults were not tuned on them)
KINDS = ("from scratch, reinforce", "shared weights, reinforce", "shared weights, random")


@dataclass(frozen=True)
class Searched:
    kind: str
    seed: int
    seconds: float  # wall time: the search, the derivation and the final test
    architectures: int  # distinct architectures evaluated (trained, or scored with shared weights)
    val_accuracy: float  # the pick's, trained from scratch
    test_accuracy: float
    pick: str
    children: tuple[Episode, ...] = field(default=(), repr=False)  # the search's record

    def line(self) -> str:
        return (f"  seed {self.seed}  {self.kind:<26} {self.seconds:>6.0f} s  {self.architectures:>5} architectures  "
                f"pick: val {self.val_accuracy:.4f}, test {self.test_accuracy:.4f}  {self.pick}")


class DerivationPrice:
    """The seconds a shared-weight search's derivation will take, kept up to date as its children are
    scored (seen()), for the architectures best so far by shared score: the second scoring of the
    best `config.rescore` on `val_images` validation images, each at its own scoring's seconds per
    image; the training from scratch of the best `config.derive`, each at the from-scratch search's
    seconds for a child of its multiply-adds (`cost`), a least-squares line through that search's
    children (`alone`), no lower than its quickest. Priced at the from-scratch search's mean child
    and mean scoring, the wide architectures a search often picks were priced at half of what they
    took, and single searches overran their wall time by up to 30%; priced by parameters, a wide
    layer pooled before the classifier looked cheap."""

    def __init__(self, alone: Sequence[Episode], config: SharingConfig, val_images: int,
                 cost: Callable[[Architecture], float]):
        trained = [(cost(e.architecture), e.seconds) for e in alone if e.metrics is not None and not e.cached]
        if not trained:
            raise ValueError("the from-scratch search trained no child to price the derivation by")
        costs, seconds = zip(*trained, strict=True)
        self.floor = min(seconds)
        try:
            self.slope, self.intercept = statistics.linear_regression(costs, seconds)
        except statistics.StatisticsError:  # one child, or all of one cost: their mean
            self.slope, self.intercept = 0.0, statistics.fmean(seconds)
        self.config, self.val_images, self.cost = config, val_images, functools.cache(cost)
        self.best: list[tuple[float, int, Episode]] = []  # (shared score, -episode, it): the best so far, a min-heap

    def seen(self, episode: Episode) -> None:
        if episode.metrics is not None and not episode.cached:
            item = (episode.metrics.accuracy, -episode.episode, episode)  # ties: the earlier, as derive() ranks
            keep = max(self.config.rescore, self.config.derive)
            (heapq.heappush if len(self.best) < keep else heapq.heappushpop)(self.best, item)

    def child(self, architecture: Architecture) -> float:
        """The seconds of `architecture` trained from scratch as a from-scratch child."""
        return max(self.floor, self.intercept + self.slope * self.cost(architecture))

    def seconds(self) -> float:
        ranked = [e for *_, e in sorted(self.best, reverse=True)]
        again = sum(e.metrics.train_seconds for e in ranked[:self.config.rescore] if e.metrics is not None)
        return (again * self.val_images / self.config.val_images
                + sum(self.child(e.architecture) for e in ranked[:self.config.derive]))


def multiply_adds(network: TorchNetwork) -> int:
    """Multiply-adds of one image through a built network's convolutions and linear layers: what a
    child's training time grows with (its parameters do not say it: pooling a wide layer cuts the
    classifier's parameters, not the convolutions' work)."""
    assert network.module is not None
    total = 0

    def count(layer: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            total += output[0].numel() * layer.in_channels // layer.groups * math.prod(layer.kernel_size)
        elif isinstance(layer, torch.nn.Linear):
            total += output[0].numel() * layer.in_features

    hooks = [m.register_forward_hook(count) for m in network.module.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.no_grad():
            network.module.eval()(torch.zeros(1, *network.input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def run_one(kind: str, seed: int, device: torch.device, data_dir: str | None, out: Path,
            wall: float | None = None, alone: Sequence[Episode] = ()) -> Searched:
    """One search of `kind` with `seed`; a shared-weight one stopped so that it ends within `wall`
    (priced by the from-scratch search's children, `alone`)."""
    sharing = kind.startswith("shared")
    argv = ["--seed", str(seed), "--device", device.type, "--run-dir", str(out / f"{kind.split(',')[0][:6]}-"
            f"{kind.split(', ')[1]}-{seed}"), "--agent", kind.split(", ")[1]]
    if data_dir:
        argv += ["--data-dir", data_dir]
    if sharing:
        argv += ["--weight-sharing", "--episodes", "1000000"]  # the wall time ends it
    start = time.perf_counter()
    search = open_search(build_parser(raise_errors=True).parse_args(argv))
    controller = search.controller
    try:
        if sharing:
            config = controller.config.sharing
            assert wall is not None and config is not None

            def cost(architecture: Architecture) -> float:
                network = controller.network_factory(architecture, controller.data.input_shape,
                                                     controller.data.num_classes)
                assert isinstance(network, TorchNetwork)  # weight sharing builds CNNs
                network.build()
                return float(multiply_adds(network))

            price = DerivationPrice(alone, config, len(controller.data.val), cost)

            def stop_in_time(episode: Episode) -> None:
                price.seen(episode)
                if time.perf_counter() - start + price.seconds() >= wall:
                    controller.stop()

            controller.add_callback(stop_in_time)
        result = controller.final_test(controller.derive(controller.search()))
    finally:
        controller.executor.close()
    assert result.test is not None
    return Searched(kind, seed, time.perf_counter() - start, len(result.trained), result.best.accuracy,
                    result.test.accuracy, result.best.architecture.describe(), tuple(controller.history))


def sharing_search_section(args: argparse.Namespace, device: torch.device) -> None:
    seeds = range(1, (args.seeds or SEEDS) + 1)
    print(f"sharing-search: the default CNN search from scratch against weight sharing at the same wall time, "
          f"{len(seeds)} seeds, on this machine")
    runs: list[Searched] = []
    with tempfile.TemporaryDirectory(prefix="nas-sharing-search-") as tmp:
        for seed in seeds:
            alone = run_one(KINDS[0], seed, device, args.data_dir, Path(tmp))
            print(alone.line(), flush=True)
            runs.append(alone)
            for kind in KINDS[1:]:
                runs.append(run_one(kind, seed, device, args.data_dir, Path(tmp), alone.seconds, alone.children))
                print(runs[-1].line(), flush=True)
    print("  means over seeds (95% intervals):")
    for kind in KINDS:
        mine = [r for r in runs if r.kind == kind]
        test, half = mean_t95([r.test_accuracy for r in mine])
        print(f"  {kind:<26} {statistics.fmean(r.seconds for r in mine):>6.0f} s  "
              f"{statistics.fmean(r.architectures for r in mine):>7.0f} architectures  "
              f"pick's test accuracy {test:.4f} +- {half:.4f}")

"""`bench sharing-search`: weight sharing against training from scratch, search against search.

Per seed, three searches of the default CNN space on this machine:
- the default search, every child trained from scratch (REINFORCE, the CLI's default budget);
- REINFORCE with shared weights, given the same wall time;
- random search with shared weights, the same.

A shared-weight search is stopped when what it has spent, plus what its derivation will cost
(its second scoring on the whole validation split, and SharingConfig.derive children at the
from-scratch search's mean seconds per child), reaches the from-scratch search's wall time; the
derivation then trains its best from scratch at the budget a from-scratch child gets (1 epoch on
the CLI's default training images), so every pick is tested after one common budget. Printed per
search: its wall time, the architectures it evaluated and its pick's test accuracy; then the
means over seeds with 95% intervals.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nas_pattern.bench.common import mean_t95
from nas_pattern.config import build_parser
from nas_pattern.records import Episode
from nas_pattern.session import open_search

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

    def line(self) -> str:
        return (f"  seed {self.seed}  {self.kind:<26} {self.seconds:>6.0f} s  {self.architectures:>5} architectures  "
                f"pick: val {self.val_accuracy:.4f}, test {self.test_accuracy:.4f}  {self.pick}")


def run_one(kind: str, seed: int, device: torch.device, data_dir: str | None, out: Path,
            wall: float | None = None, child_seconds: float = 0.0) -> Searched:
    """One search of `kind` with `seed`; a shared-weight one stopped so that it ends within `wall`."""
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
            scores: list[float] = []  # seconds per score on val_images images

            def stop_in_time(episode: Episode) -> None:
                if episode.metrics is not None and not episode.cached:
                    scores.append(episode.metrics.train_seconds)
                # the derivation: its second look on the whole validation split, then its retraining
                per_image = statistics.fmean(scores or [0.0]) / config.val_images
                again = config.rescore * per_image * len(controller.data.val)
                if time.perf_counter() - start + again + config.derive * child_seconds >= wall:
                    controller.stop()

            controller.add_callback(stop_in_time)
        result = controller.final_test(controller.derive(controller.search()))
    finally:
        controller.executor.close()
    assert result.test is not None
    return Searched(kind, seed, time.perf_counter() - start, len(result.trained), result.best.accuracy,
                    result.test.accuracy, result.best.architecture.describe())


def sharing_search_section(args: argparse.Namespace, device: torch.device) -> None:
    seeds = range(1, (args.seeds or SEEDS) + 1)
    print(f"sharing-search: the default CNN search from scratch against weight sharing at the same wall time, "
          f"{len(seeds)} seeds, on this machine")
    runs: list[Searched] = []
    with tempfile.TemporaryDirectory(prefix="nas-sharing-search-") as tmp:
        for seed in seeds:
            alone = run_one(KINDS[0], seed, device, args.data_dir, Path(tmp))
            print(alone.line(), flush=True)
            per_child = alone.seconds / max(alone.architectures, 1)
            runs.append(alone)
            for kind in KINDS[1:]:
                runs.append(run_one(kind, seed, device, args.data_dir, Path(tmp), alone.seconds, per_child))
                print(runs[-1].line(), flush=True)
    print("  means over seeds (95% intervals):")
    for kind in KINDS:
        mine = [r for r in runs if r.kind == kind]
        test, half = mean_t95([r.test_accuracy for r in mine])
        print(f"  {kind:<26} {statistics.fmean(r.seconds for r in mine):>6.0f} s  "
              f"{statistics.fmean(r.architectures for r in mine):>7.0f} architectures  "
              f"pick's test accuracy {test:.4f} +- {half:.4f}")

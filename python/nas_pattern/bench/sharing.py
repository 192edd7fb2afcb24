"""`bench sharing`: how well shared weights rank architectures, against the stand-alone training a
measured table records.

The supernet of the table's space is trained on the table's training images (SHARED_EPOCHS
passes, one minibatch per architecture drawn uniformly), then every architecture of the table is
scored with the shared weights on the same validation images. Printed per table and supernet
seed: Kendall's tau, Spearman's rho and the overlap of the top 10, against the table's validation
accuracies; then their means over the seeds with 95% intervals (one seed's tau moves by ~0.05),
beside the ceiling: the seed-to-seed tau of stand-alone training (a sample of the table trained
again with another seed). On the CNN tables, one module per candidate is measured against weight
entanglement with the same seeds, and their difference seed for seed. The per-architecture pairs
of the first seed go to a CSV beside the figures.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nas_pattern.bench.agreement import Ceiling, ceiling_of, kendall, share_interval, spearman, top_overlap
from nas_pattern.bench.common import load_table, mean_t95
from nas_pattern.data import load_dataset
from nas_pattern.files import stops_deferred, text_written
from nas_pattern.networks import get_network
from nas_pattern.networks.supernet import Supernet
from nas_pattern.plots import plot_pairs
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.sharing import SharedWeights, SharingConfig
from nas_pattern.table import Table
from nas_pattern.trainer import TrainConfig, device_name, on_device, seeded

DEFAULT_TABLES = ("benchmarks/fashion-mnist-cnn576.csv", "benchmarks/fashion-mnist-cnn-skips212.csv",
                  "benchmarks/fashion-mnist-rnn256.csv")
SCORE_IMAGES = 1000  # validation images each architecture is scored on with the shared weights
# Passes of shared training over the table's training images: the recipe of issue 27's yardstick
# (a naive supernet, uniform paths, AdamW 2e-3, batches of 32, 10 passes over 4,000 images).
SHARED_EPOCHS = 10
PICKS = (1, 2, 5, 10)  # derivations of K architectures whose pick the section prints
CEILING_SAMPLE = 96  # architectures retrained stand-alone with another seed: the table's own noise
SEEDS = 5  # supernets per table, seeds --seed, --seed + 1, ...: one seed's tau is not a finding


@dataclass(frozen=True)
class Ranking:
    """How the shared weights ranked a table's architectures."""

    table: str
    kendall: float
    spearman: float
    top: int  # of the table's 10 best, how many are among the shared weights' 10 best
    architectures: int
    train_seconds: float
    score_seconds: float  # scoring every architecture
    pairs: list[tuple[Architecture, float, float]]  # (architecture, stand-alone, shared)
    seed: int = 0  # of the supernet's initial weights and of the paths it was trained through

    def pick_regret(self, k: int) -> float:
        """What the derivation of a search that scored every architecture would lose: the table's
        best stand-alone accuracy minus the best of the `k` best by shared score."""
        alone, together = np.array([p[1] for p in self.pairs]), np.array([p[2] for p in self.pairs])
        return float(alone.max() - alone[np.argsort(-together, kind="stable")[:k]].max())

    def line(self) -> str:
        return (f"{self.table}: Kendall's tau {self.kendall:.2f}, Spearman's rho {self.spearman:.2f}, "
                f"top-10 overlap {self.top}/10 ({self.architectures} architectures; shared training "
                f"{self.train_seconds:.0f} s, scoring {1000 * self.score_seconds / self.architectures:.0f} ms each)")


def summarize(rankings: Sequence[Ranking], ceiling: Ceiling, random: float,
              separate: Sequence[Ranking] = ()) -> list[str]:
    """What a table's rankings by supernets of several seeds say together: the means with 95%
    intervals (Student's t over the seeds) of tau, rho, the top-10 overlap, tau over the ceiling (the
    seeds' interval, then share_interval's, with the ceiling's uncertainty too) and the derivation's
    pick by K (beside a random architecture's shortfall, `random`); with `separate` (the same seeds,
    one module per candidate), its tau and its difference from entanglement's seed for seed, and
    whether that interval leaves out 0."""
    def mean(values: Sequence[float], digits: int = 2) -> str:
        middle, half = mean_t95(values)
        return f"{middle:.{digits}f}" + ("" if math.isnan(half) else f" ± {half:.{digits}f}")

    taus = [r.kendall for r in rankings]
    seeds = ", ".join(str(r.seed) for r in rankings)
    share = mean([tau / ceiling.tau if ceiling.tau else math.nan for tau in taus])  # a ceiling of 0: no ratio
    low, high = share_interval(taus, ceiling)
    if not math.isnan(low):
        share += f" (the seeds' interval); {low:.2f}-{high:.2f} with the ceiling's uncertainty too"
    picks = ", ".join(f"K={k} {mean([r.pick_regret(k) for r in rankings], 4)}" for k in PICKS)
    lines = [f"  means over {len(rankings)} supernet(s), seeds {seeds}, with 95% intervals:",
             f"    Kendall's tau    {mean(taus)}",
             f"    tau / ceiling    {share}",  # the ceiling: the table's first line
             f"    Spearman's rho   {mean([r.spearman for r in rankings])}",
             f"    top-10 overlap   {mean([r.top for r in rankings], 1)} of 10",
             "  the derivation's pick, the best stand-alone of the K best by shared score, short of the table's "
             f"best by: {picks} (a random architecture: {random:.4f})"]
    if separate:
        differences = [s.kendall - r.kendall for r, s in zip(rankings, separate, strict=True)]
        middle, half = mean_t95(differences)
        verdict = ("too few seeds to say" if math.isnan(half) else "a clear difference: the interval leaves out 0"
                   if abs(middle) > half else "no clear difference: the interval holds 0")
        lines.append(f"  one module per candidate instead: Kendall's tau {mean([s.kendall for s in separate])}; "
                     f"minus entanglement's, seed for seed: {mean(differences)} ({verdict})")
    return lines


def uniform(space: SearchSpace, seed: int) -> callable:  # type: ignore[valid-type]
    """Draws architectures of `space` uniformly at random (over encodings), valid ones only."""
    rng = random.Random(seed)

    def draw() -> Architecture:
        while True:
            architecture = space.decode([rng.randrange(n) for n in space.num_choices])
            if not space.validate(architecture):
                return architecture
    return draw


def rank_table(table: Table, name: str, device: torch.device, data_dir: str | None = None, seed: int = 0,
               epochs: int = SHARED_EPOCHS, config: SharingConfig | None = None,
               score_images: int = SCORE_IMAGES, limit: int | None = None, entangled: bool = True) -> Ranking:
    """Train the supernet of `table`'s space on its training images for `epochs` passes, score its
    architectures (the first `limit` of them, all by default) with the shared weights, and compare
    the two rankings."""
    budget = table.metadata["budget"]
    network = get_network(budget.get("network", "cnn"))
    data = load_dataset(budget.get("dataset", "fashion-mnist"), data_dir)
    train_config = TrainConfig.for_device(device)
    train = on_device(data.train.head(int(budget["train_images"])), device)
    val = on_device(data.val.head(score_images), device)
    with seeded(seed):  # its initial weights: the same seed ranks alike, whatever ran before in this process
        supernet = Supernet.of(network, table.space, data.input_shape, data.num_classes, entangled=entangled)
    config = config or SharingConfig()
    shared = SharedWeights(supernet, config, train_config, device, seed)
    steps = epochs * math.ceil(len(train) / config.batch_size)
    start = time.perf_counter()
    shared.train(train, steps, uniform(table.space, seed))
    trained = time.perf_counter() - start
    architectures = list(table.rows)[:limit]
    start = time.perf_counter()
    pairs = [(a, table.rows[a].val_accuracy, shared.score(a, val).accuracy) for a in architectures]
    scored = time.perf_counter() - start
    alone, together = [p[1] for p in pairs], [p[2] for p in pairs]
    return Ranking(name, kendall(alone, together), spearman(alone, together),
                   top_overlap(alone, together, min(10, len(pairs))), len(pairs), trained, scored, pairs, seed=seed)


def seed_to_seed(table: Table, device: torch.device, data_dir: str | None = None, seed: int = 1,
                 sample: int = CEILING_SAMPLE) -> Ceiling:
    """The ceiling of any ranking against `table`: Kendall's tau between its validation accuracies
    and those of `sample` of its architectures (evenly spaced in the space's order) trained again
    stand-alone, at the table's budget, with another seed; with its bootstrap interval."""
    budget = table.metadata["budget"]
    network = get_network(budget.get("network", "cnn"))
    data = load_dataset(budget.get("dataset", "fashion-mnist"), data_dir)
    config = TrainConfig.for_device(device)
    train = on_device(data.train.head(int(budget["train_images"])), device, config.channels_last)
    val = on_device(data.val.head(int(budget.get("val_images", len(data.val)))), device, config.channels_last)
    architectures = list(table.rows)
    chosen = [architectures[i * len(architectures) // sample] for i in range(min(sample, len(architectures)))]
    again = []
    for architecture in chosen:
        child = network(architecture, data.input_shape, data.num_classes, train_config=config, device=device,
                        seed=seed + int(table.metadata.get("seed", 0)))
        child.build()
        child.train(train, int(budget["epochs"]))
        again.append(child.evaluate(val).accuracy)
    return ceiling_of([table.rows[a].val_accuracy for a in chosen], again)


def random_regret(table: Table) -> float:
    """The expected shortfall of an architecture of `table` picked at random."""
    accuracies = [row.val_accuracy for row in table.rows.values()]
    return max(accuracies) - float(np.mean(accuracies))


def write_pairs(ranking: Ranking, out: Path) -> Path:
    """The per-architecture pairs as CSV (architecture, stand-alone and shared-weight accuracy),
    and as a scatter plot beside it (the same name, .png)."""
    path = out / f"sharing-{Path(ranking.table).stem}.csv"
    with text_written(path) as f:  # whole or not at all, its folder made if need be
        writer = csv.writer(f)
        writer.writerow(["architecture", "standalone_val_accuracy", "shared_val_accuracy"])
        for architecture, alone, together in ranking.pairs:
            writer.writerow([architecture.describe(), f"{alone:.4f}", f"{together:.4f}"])
    plot_pairs(path.with_suffix(".png"), [p[1] for p in ranking.pairs], [p[2] for p in ranking.pairs],
               f"{Path(ranking.table).stem}: Kendall's tau {ranking.kendall:.2f}")
    return path


def tables(args: argparse.Namespace) -> list[str]:
    """The tables the section ranks on: --table FILE, or the committed ones."""
    return [args.table] if args.table else list(DEFAULT_TABLES)


def sharing_section(args: argparse.Namespace, device: torch.device) -> None:
    """Ranking quality of shared weights on each table (--table FILE, or the committed ones), by
    --seeds supernets each (default SEEDS, from --seed)."""
    out = Path(args.out or "benchmarks")
    seeds = range(args.seed, args.seed + (args.seeds or SEEDS))
    print(f"sharing: supernets trained on each table's training images ({args.shared_epochs} passes, uniform paths) "
          f"on {device_name(device)}, {len(seeds)} per table (seeds {seeds[0]}-{seeds[-1]}), every architecture "
          f"scored on {SCORE_IMAGES:,} validation images")
    paths, written = tables(args), []
    try:
        for path in paths:
            table = load_table(path)
            ceiling = seed_to_seed(table, device, args.data_dir)
            cnn = table.metadata["budget"].get("network", "cnn") == "cnn"  # the alternative to weight entanglement
            rankings: list[Ranking] = []
            separate: list[Ranking] = []
            print(f"{path}: {ceiling.line()} (the ceiling)", flush=True)
            for seed in seeds:
                rankings.append(rank_table(table, path, device, args.data_dir, seed, epochs=args.shared_epochs))
                print(f"  seed {seed}: {rankings[-1].line().split(': ', 1)[1]}", flush=True)
                if cnn:
                    separate.append(rank_table(table, path, device, args.data_dir, seed, epochs=args.shared_epochs,
                                               entangled=False))
                    print(f"  seed {seed}, one module per candidate: {separate[-1].line().split(': ', 1)[1]}",
                          flush=True)
            for line in summarize(rankings, ceiling, random_regret(table), separate):
                print(line)
            with stops_deferred():  # the pairs and their picture together: a stop keeps both or neither
                pairs = write_pairs(rankings[0], out)
                written.append(pairs.name)
            print(f"  pairs of seed {seeds[0]}: {pairs} (and .png)", flush=True)
    except KeyboardInterrupt:  # each table's figures are printed as they come; its pairs once it is done
        raise KeyboardInterrupt(f"the pairs of {len(written)} of {len(paths)} tables are in {out} "
                                f"({', '.join(written)}, each with its .png)" if written else
                                f"no table was finished; {out} is as it was") from None

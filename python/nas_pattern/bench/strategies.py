"""bench strategies: every search strategy on a measured table, for many seeds, at each budget."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nas_pattern.bench import study
from nas_pattern.bench.common import STUDY_SEEDS, load_table


def strategies_section(args: argparse.Namespace, device: torch.device) -> None:
    table = load_table(args.table)
    args.seeds = args.seeds or STUDY_SEEDS
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    architecture, best = table.best
    print(f"strategies: {len(study.STRATEGIES)} strategies x {args.seeds} seeds (seeds {seeds.start}..{seeds.stop - 1})"
          f" on {args.table} ({table.space.size} architectures; optimum {architecture.describe()}, val "
          f"{best.val_accuracy:.4f}, test {best.test_accuracy:.4f}); budgets {', '.join(map(str, args.budgets))} "
          f"distinct architectures trained; {args.workers} worker process(es)")
    start = time.perf_counter()
    traces = study.run_study(Path(args.table), list(study.STRATEGIES), seeds, max(args.budgets), workers=args.workers)
    summaries = [s for name in study.STRATEGIES for s in study.summarize(table, name, traces[name], args.budgets)]
    print(study.format_table(summaries, best.val_accuracy))
    out = Path(args.out)
    study.write_csv(out / "strategies.csv", summaries)
    study.plot(out / "strategies.png", table, traces, max(args.budgets),
               f"{table.space.size}-architecture Fashion-MNIST table, {args.seeds} seeds per strategy")
    print(f"  wrote {out / 'strategies.csv'} and {out / 'strategies.png'} in {time.perf_counter() - start:.0f} s")

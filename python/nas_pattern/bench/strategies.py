"""bench strategies: every search strategy on every landscape, for many seeds, at each budget."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nas_pattern import plots
from nas_pattern.bench import landscapes, study
from nas_pattern.bench.common import STUDY_SEEDS


def strategies_section(args: argparse.Namespace, device: torch.device) -> None:
    """The study over `--table FILE`, or over the landscapes named by `--landscapes` (default: all)."""
    sources = [args.table] if args.table else list(args.landscapes)
    args.seeds = args.seeds or STUDY_SEEDS
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    budget = max(args.budgets)
    strategies = list(args.strategies)
    print(f"strategies: {len(strategies)} strategies x {args.seeds} seeds (seeds {seeds.start}..{seeds.stop - 1})"
          f" on {len(sources)} landscape(s); budgets {', '.join(map(str, args.budgets))} distinct architectures "
          f"trained; {args.workers} worker process(es)")
    start = time.perf_counter()
    summaries: list[study.Summary] = []
    panels: dict[str, dict[str, plots.Band]] = {}
    for source in sources:
        table = landscapes.load(source)
        name = landscapes.name_of(source)
        known = landscapes.LANDSCAPES.get(source)
        held_out = known is None or not known.tuned
        architecture, best = table.best
        print(f"\n{name}{'' if held_out else ' (tuned on)'}: {known.description if known else source}; "
              f"{len(table.rows)} architectures; optimum {architecture.describe()}, val {best.val_accuracy:.4f}")
        traces = study.run_study(source, strategies, seeds, budget, workers=args.workers)
        found = [s for strategy in strategies
                 for s in study.summarize(table, strategy, traces[strategy], args.budgets, name, held_out)]
        print(study.format_table(found, best.val_accuracy))
        summaries += found
        panels[name + ("" if held_out else " (tuned on)")] = study.curves(table, traces, budget)
        _write(Path(args.out), summaries, panels, budget, args.seeds)  # after each landscape: a stop keeps them
    print("\nREINFORCE against the rivals on the held-out landscapes (<= better or equal; ~ worse in the mean "
          "but within the 95% intervals; > worse):")
    print("\n".join(study.verdict(summaries)) or "  (no held-out landscape in this run)")
    out = Path(args.out)
    print(f"  wrote {out / 'strategies.csv'}, {out / 'regret.csv'} and {out / 'strategies.png'} in "
          f"{time.perf_counter() - start:.0f} s")


def _write(out: Path, summaries: list[study.Summary], panels: dict[str, dict[str, plots.Band]], budget: int,
           seeds: int) -> None:
    study.write_csv(out / "strategies.csv", summaries)
    study.write_regret_csv(out / "regret.csv", summaries)
    plots.plot_regret_panels(out / "strategies.png", panels, budget,
                             f"Regret against distinct architectures trained, {seeds} seeds per strategy")

"""bench strategies: every search strategy on every landscape, for many seeds, at each budget."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nas_pattern import plots
from nas_pattern.bench import landscapes, record, study
from nas_pattern.bench.common import STUDY_SEEDS
from nas_pattern.files import stops_deferred


def study_sources(args: argparse.Namespace) -> list[str]:
    """What the study runs on: `--table FILE`, or the landscapes named by `--landscapes` (default: all)."""
    return [args.table] if args.table else list(args.landscapes)


def strategies_section(args: argparse.Namespace, device: torch.device) -> None:
    """The study over `--table FILE`, or over the landscapes named by `--landscapes` (default: all)."""
    sources = study_sources(args)
    args.seeds = args.seeds or STUDY_SEEDS
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    budget = max(args.budgets)
    strategies = list(args.strategies)
    print(f"strategies: {len(strategies)} strategies x {args.seeds} seeds (seeds {seeds.start}..{seeds.stop - 1})"
          f" on {len(sources)} landscape(s); budgets {', '.join(map(str, args.budgets))} distinct architectures "
          f"trained; {args.workers} worker process(es)")
    start = time.perf_counter()
    out = Path(args.out)
    summaries: list[study.Summary] = []
    curves: record.Curves = {}
    written: list[str] = []  # the landscapes recorded in --out so far
    recorded: list[study.Summary] = []
    try:
        for source in sources:
            table = landscapes.load(source)
            name = landscapes.name_of(source)
            known = landscapes.LANDSCAPES.get(source)
            held_out = known is None or not known.tuned
            architecture, best = table.best
            print(f"\n{name}{'' if held_out else ' (tuned on)'}: {known.description if known else source}; "
                  f"size {landscapes.encodings(table.space):,} encodings, {len(table.rows):,} distinct architectures; "
                  f"optimum {architecture.describe()}, val {best.val_accuracy:.4f}")
            traces = study.run_study(source, strategies, seeds, budget, workers=args.workers)
            found = [s for strategy in strategies
                     for s in study.summarize(table, strategy, traces[strategy], args.budgets, name, held_out,
                                              seeds.start)]
            print(study.format_table(found, best.val_accuracy))
            summaries += found
            curves[(name, held_out)] = study.curves(table, traces, budget)
            with stops_deferred():  # after each landscape, the record's files together: a stop keeps them
                recorded = _write(out, summaries, curves)
                written.append(name)
    except KeyboardInterrupt:  # the landscapes studied to the end are in --out already, each written whole
        raise KeyboardInterrupt(f"the study of {', '.join(written)} ({len(written)} of {len(sources)} landscapes) "
                                f"is recorded in {out}" if written else
                                f"no landscape's study was finished; {out} is as it was") from None
    kept = len({(s.landscape, s.strategy) for s in recorded}) - len({(s.landscape, s.strategy) for s in summaries})
    print("\nREINFORCE against the rivals on the held-out landscapes (<= better or equal; ~ worse in the mean "
          "but within the 95% intervals; > worse)" + (", with the rows this run kept:" if kept else ":"))
    print("\n".join(study.verdict(recorded)) or "  (no held-out landscape in the record)")
    print(f"  wrote {out / 'strategies.csv'}, {out / 'curves.csv'}, {out / 'regret.csv'}, {out / 'strategies.md'} "
          f"(the README's table) and {out / 'strategies.png'} in {time.perf_counter() - start:.0f} s"
          + (f" (keeping {kept} landscape-strategy pair(s) of earlier runs that this one did not search)"
             if kept else ""))


def _write(out: Path, summaries: list[study.Summary], curves: record.Curves) -> list[study.Summary]:
    """The study's record in `out`, with this run's rows in place of the earlier runs' for the same
    landscape and strategy (the others kept: one strategy can be searched again after a change);
    the figure, regret.csv and the README's table from that record. Returns the record."""
    rows = record.merge(record.read_csv(out / "strategies.csv"), summaries)
    drawn = record.merge_curves(record.read_curves_csv(out / "curves.csv"), curves)
    record.write_csv(out / "strategies.csv", rows)
    record.write_curves_csv(out / "curves.csv", drawn)
    record.write_regret_csv(out / "regret.csv", rows)
    record.write_markdown(out / "strategies.md", rows)
    seeds = sorted({s.seeds for s in rows})
    panels = {name + ("" if held_out else " (tuned on)"): bands for (name, held_out), bands in drawn.items()}
    plots.plot_regret_panels(out / "strategies.png", panels,
                             f"Regret against distinct architectures trained, {'/'.join(map(str, seeds))} seeds "
                             "per strategy")
    return rows

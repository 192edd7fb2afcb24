"""The study's record (`bench strategies --out`, benchmarks/ by default): strategies.csv (every
landscape, strategy and budget), curves.csv (the figure's curves), regret.csv (the guide's table).
A run replaces the rows of the landscapes and strategies it searched and keeps the others, so one
strategy can be searched again after a change without searching its rivals again. Each file is
written whole or not at all (files.text_written): a study stopped while it writes keeps the
record it had."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nas_pattern import plots
from nas_pattern.bench import landscapes
from nas_pattern.bench.study import STRATEGIES, Summary
from nas_pattern.files import text_written


def write_csv(path: Path, summaries: Sequence[Summary]) -> None:
    with text_written(path) as stream:
        writer = csv.DictWriter(stream, fieldnames=list(summaries[0].row()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(s.row() for s in summaries)


def read_csv(path: Path) -> list[Summary]:
    """The summaries write_csv() wrote (none if there is no such file)."""
    if not path.exists():
        return []
    with path.open(newline="") as stream:
        return [Summary(strategy=r["strategy"], budget=int(r["budget"]), seeds=int(r["seeds"]),
                        best_val=(float(r["best_val_mean"]), float(r["best_val_ci95"])),
                        test=(float(r["test_mean"]), float(r["test_ci95"])),
                        regret=(float(r["regret_mean"]), float(r["regret_ci95"])),
                        found_optimum=float(r["found_optimum"]), reward_variance=float(r["reward_variance"]),
                        landscape=r["landscape"], held_out=r["held_out"] == "True",
                        first_seed=int(r.get("first_seed") or 0), encodings=int(r.get("encodings") or 0),
                        architectures=int(r.get("architectures") or 0))
                for r in csv.DictReader(stream)]


Curves = dict[tuple[str, bool], dict[str, plots.Band]]  # (landscape, held out) -> strategy -> its regret band


def write_curves_csv(path: Path, curves: Curves) -> None:
    """Every curve of the figure, one row per landscape, strategy and architectures trained (points)."""
    with text_written(path) as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["landscape", "held_out", "strategy", "trained", "regret_mean", "regret_low", "regret_high"])
        for (landscape, held_out), bands in curves.items():
            for strategy, (means, lows, highs) in bands.items():
                for n, (mean, low, high) in enumerate(zip(means, lows, highs, strict=True), 1):
                    writer.writerow([landscape, held_out, strategy, n, f"{mean:.4f}", f"{low:.4f}", f"{high:.4f}"])


def read_curves_csv(path: Path) -> Curves:
    """The curves write_curves_csv() wrote (none if there is no such file)."""
    columns: dict[tuple[str, bool], dict[str, tuple[list[float], list[float], list[float]]]] = {}
    if path.exists():
        with path.open(newline="") as stream:
            for r in csv.DictReader(stream):
                band = columns.setdefault((r["landscape"], r["held_out"] == "True"), {}).setdefault(
                    r["strategy"], ([], [], []))
                for values, key in zip(band, ("regret_mean", "regret_low", "regret_high"), strict=True):
                    values.append(float(r[key]))
    return {key: dict(bands) for key, bands in columns.items()}


def merge(old: Sequence[Summary], new: Sequence[Summary]) -> list[Summary]:
    """The study's record after a run: `new`'s rows, and `old`'s for every (landscape, strategy) the
    run did not search, in landscape order, then the order of STRATEGIES."""
    ran = {(s.landscape, s.strategy) for s in new}
    rows = [s for s in old if (s.landscape, s.strategy) not in ran] + list(new)
    return sorted(rows, key=lambda s: (_landscape_order(s.landscape), _strategy_order(s.strategy), s.budget))


def merge_curves(old: Curves, new: Curves) -> Curves:
    """As merge(), for the figure's curves."""
    merged: Curves = {}
    for key in sorted({*old, *new}, key=lambda k: _landscape_order(k[0])):
        bands = {**old.get(key, {}), **new.get(key, {})}
        merged[key] = {s: bands[s] for s in sorted(bands, key=_strategy_order)}
    return merged


def _landscape_order(name: str) -> tuple[int, str]:
    order = list(landscapes.LANDSCAPES)
    return (order.index(name), name) if name in order else (len(order), name)


def _strategy_order(name: str) -> tuple[int, str]:
    return (STRATEGIES.index(name), name) if name in STRATEGIES else (len(STRATEGIES), name)


def write_regret_csv(path: Path, summaries: Sequence[Summary]) -> None:
    """The comparison at a glance: one row per landscape and strategy, the mean regret and its 95%
    half-width at each budget (the guide shows this file as a table)."""
    budgets = sorted({s.budget for s in summaries})
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for s in summaries:
        row = rows.setdefault((s.landscape, s.strategy), {
            "landscape": s.landscape + ("" if s.held_out else " (tuned on)"), "strategy": s.strategy})
        row[f"regret at {s.budget}"] = f"{s.regret[0]:.4f} ±{s.regret[1]:.4f}"
    with text_written(path) as stream:
        writer = csv.DictWriter(stream, fieldnames=["landscape", "strategy", *(f"regret at {b}" for b in budgets)],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows.values())


NAMES = {"reinforce": "REINFORCE", "tpe": "TPE"}  # how the tables print a strategy (others: as registered)


def markdown_table(summaries: Sequence[Summary]) -> str:
    """The README's table: a row per landscape and strategy, the landscape's size (encodings /
    distinct architectures) on its first row, the regret at each budget with its 95% half-width
    (the best mean of the landscape at that budget in bold), and the share of searches that found
    the optimum at the two largest budgets."""
    budgets = sorted({s.budget for s in summaries})
    found = {(s.landscape, s.strategy, s.budget): s for s in summaries}
    best = {(s.landscape, s.budget): min(t.regret[0] for t in summaries
                                         if (t.landscape, t.budget) == (s.landscape, s.budget)) for s in summaries}
    last = budgets[-2:]
    lines = ["| landscape | size | strategy | " + " | ".join(f"regret at {b}" for b in budgets)
             + f" | found the optimum at {' / '.join(map(str, last))} |",
             "|---" * (len(budgets) + 4) + "|"]
    shown = ""
    for landscape, strategy in dict.fromkeys((s.landscape, s.strategy) for s in summaries):
        first = found[landscape, strategy, budgets[0]]
        name = size = ""
        if landscape != shown:
            name = landscape + ("" if first.held_out else " (tuned on)")
            size = _size(max((t for t in summaries if t.landscape == landscape), key=lambda t: t.encodings))
        shown = landscape
        cells = []
        for b in budgets:
            s = found[landscape, strategy, b]
            cell = f"{s.regret[0]:.4f} ±{s.regret[1]:.4f}"
            cells.append(f"**{cell}**" if round(s.regret[0], 4) == round(best[landscape, b], 4) else cell)
        share = " / ".join(f"{found[landscape, strategy, b].found_optimum:.0%}" for b in last)
        lines.append(f"| {name} | {size} | {NAMES.get(strategy, strategy)} | " + " | ".join(cells) + f" | {share} |")
    return "\n".join(lines) + "\n"


def _size(summary: Summary) -> str:
    """`1,679,616`, or `1,119,744 / 141,300` when encodings and distinct architectures differ."""
    if not summary.encodings:
        return "?"
    if summary.encodings == summary.architectures:
        return f"{summary.encodings:,}"
    return f"{summary.encodings:,} / {summary.architectures:,}"


def write_markdown(path: Path, summaries: Sequence[Summary]) -> None:
    with text_written(path) as stream:
        stream.write(markdown_table(summaries))

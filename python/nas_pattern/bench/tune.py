"""bench tune: the REINFORCE agent's hyperparameters, one at a time around the defaults, on the tuning seeds."""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from nas_pattern.agents import AgentConfig
from nas_pattern.bench import landscapes, study
from nas_pattern.bench.common import STUDY_SEEDS, table_path

# The one-at-a-time sweep of `tune`: hyperparameter -> values tried around the defaults.
TUNE_GRID: dict[str, tuple[float, ...]] = {
    "learning_rate": (0.003, 0.01, 0.03, 0.1),
    "entropy_weight": (0.0, 1e-3, 1e-2, 3e-2),
    "children_per_update": (1, 2, 4, 8),
    "baseline_decay": (0.5, 0.9, 0.98),
    "temperature": (1.0, 2.0, 5.0),
}
TUNE_BUDGET = 100


def _get(config: AgentConfig, name: str) -> float:
    """A tuned setting: children_per_update is every agent's, the rest are REINFORCE's own."""
    return float(getattr(config if name == "children_per_update" else config.reinforce, name))


def _with(config: AgentConfig, settings: dict[str, float]) -> AgentConfig:
    """`config` with the tuned settings replaced, each in its place and of its type."""
    top = {n: type(getattr(config, n))(v) for n, v in settings.items() if n == "children_per_update"}
    own = {n: type(getattr(config.reinforce, n))(v) for n, v in settings.items() if n != "children_per_update"}
    return replace(config, **top, reinforce=replace(config.reinforce, **own))


def tune_section(args: argparse.Namespace, device: torch.device) -> None:
    """Vary each hyperparameter alone around the defaults, then try the best value of each together."""
    args.table = table_path(args)
    table = landscapes.load(args.table)
    seeds = range(args.seeds or STUDY_SEEDS)  # the tuning half; the study reports from --first-seed on
    base = AgentConfig()
    results: dict[AgentConfig, study.Summary] = {}

    def regret(config: AgentConfig) -> study.Summary:
        if config not in results:
            traces = study.run_study(args.table, ["reinforce"], seeds, TUNE_BUDGET, {"reinforce": config},
                                     workers=args.workers, progress=lambda _: None)
            (results[config],) = study.summarize(table, "reinforce", traces["reinforce"], [TUNE_BUDGET])
        return results[config]

    def line(label: str, summary: study.Summary, note: str = "") -> None:
        print(f"  {label:<30} regret {summary.regret[0]:.4f} ±{summary.regret[1]:.4f}  found optimum "
              f"{summary.found_optimum:>4.0%}{note}", flush=True)

    print(f"tune: REINFORCE on {args.table}, tuning seeds 0..{args.seeds - 1}, mean regret at budget {TUNE_BUDGET} "
          f"(lower is better); one hyperparameter varied at a time around the defaults")
    best: dict[str, float] = {}
    for name, values in TUNE_GRID.items():
        scores = {}
        for value in values:
            config = _with(base, {name: value})
            scores[value] = regret(config).regret[0]
            line(f"{name} = {value:g}", results[config], "  (default)" if _get(base, name) == value else "")
        # ties keep the default
        best[name] = min(scores, key=lambda v: (scores[v], v != _get(base, name)))
    combined = _with(base, best)
    print(f"  best of each together: {', '.join(f'{n} = {v:g}' for n, v in best.items())}")
    line("defaults", regret(base))
    line("best of each together", regret(combined))

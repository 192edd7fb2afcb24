"""The side-by-side study of search strategies on a measured table (`bench strategies`, `bench tune`).

Every strategy is an `Agent` run by the real `NASController` over a `TabularNetwork`, so each
search is the engine's loop with free children. A search's budget is the number of distinct
architectures it trains: an architecture sampled again is answered from the controller's
cache (as in a real search, where it costs no training) and does not count. A search whose
agent has stopped exploring (`STALL` samples in a row that it has seen before, or
`RESAMPLE_FACTOR` times its budget in samples) ends there, keeping the best it found, and so does
a search that has trained every architecture of the table (a budget above its size).
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from tqdm import tqdm

from nas_pattern import plots
from nas_pattern.agents import AGENTS, AgentConfig
from nas_pattern.bench import landscapes
from nas_pattern.controller import NASController
from nas_pattern.files import sigint_blocked
from nas_pattern.networks.tabular import TabularNetwork
from nas_pattern.records import Episode, SearchConfig
from nas_pattern.table import Table

BUDGETS = (25, 50, 100, 200)  # distinct architectures trained
RESAMPLE_FACTOR = 10  # samples a search may draw per unit of budget before it is ended
STALL = 100  # samples in a row without a new architecture that end a search
Z95 = 1.96  # two-sided 95% normal quantile; the t quantile at 100 seeds is 1.98

# The strategies compared, by their names in the agents' registry (agents.AGENTS).
STRATEGIES = ("reinforce", "reinforce-no-baseline", "actor-critic", "random", "evolution", "tpe")


@dataclass(frozen=True)
class Trace:
    """One search: after each distinct architecture trained, the best found so far."""

    best_val: list[float]  # validation accuracy of the best so far, per trained architecture
    best_test: list[float]  # test accuracy of that best
    rewards: list[float]  # what the agent's reward() returned, per sample (the gradient's signal)

    def at(self, budget: int) -> tuple[float, float]:
        """(best validation, its test) after `budget` trained architectures (the final best if the
        search ended before)."""
        i = min(budget, len(self.best_val)) - 1
        return self.best_val[i], self.best_test[i]


def run_search(table: Table, strategy: str, seed: int, budget: int, config: AgentConfig | None = None) -> Trace:
    """One search of `budget` distinct architectures with the strategy's agent, seeded."""
    agent = AGENTS[strategy](table.space, replace(config or AgentConfig(), seed=seed))
    controller = NASController(agent, table.dataset(), network=functools.partial(TabularNetwork, table=table),
                               config=SearchConfig(episodes=budget * RESAMPLE_FACTOR, stop_entropy=0.0, seed=seed))
    best_val: list[float] = []
    best_test: list[float] = []
    rewards: list[float] = []
    stalled = 0

    def record(episode: Episode) -> None:
        nonlocal stalled
        rewards.append(episode.reward)
        stalled = stalled + 1 if episode.cached else 0
        if stalled >= STALL:
            controller.stop()
        if episode.cached or episode.metrics is None:
            return
        row = table.rows[episode.architecture]
        if not best_val or row.val_accuracy > best_val[-1]:
            best_val.append(row.val_accuracy)
            best_test.append(row.test_accuracy)
        else:
            best_val.append(best_val[-1])
            best_test.append(best_test[-1])
        if len(best_val) in (budget, len(table.rows)):  # the budget is spent, or every architecture trained
            controller.stop()

    controller.add_callback(record)
    controller.search()
    return Trace(best_val, best_test, rewards)


@dataclass(frozen=True)
class Summary:
    """One strategy at one budget, over seeds."""

    strategy: str
    budget: int
    seeds: int
    best_val: tuple[float, float]  # mean, 95% half-width
    test: tuple[float, float]
    regret: tuple[float, float]  # table optimum's validation accuracy minus the best found
    found_optimum: float  # fraction of searches that found the table's best architecture
    reward_variance: float  # mean over seeds of the variance of the rewards the agent returned
    landscape: str = ""  # the landscape's name (landscapes.LANDSCAPES) or its table file's stem
    held_out: bool = True  # False: the agents' hyperparameters were tuned on this landscape
    first_seed: int = 0  # the seeds were first_seed .. first_seed + seeds - 1
    encodings: int = 0  # the landscape's size: the choice sequences an agent can sample (0: not recorded)
    architectures: int = 0  # and the distinct architectures they decode to

    def row(self) -> dict[str, Any]:
        # Six decimals: the tables show four, and rounding to five first would round twice (a mean
        # of 0.010549 written 0.01055 shows as 0.0106).
        return {"landscape": self.landscape, "held_out": self.held_out,
                "strategy": self.strategy, "budget": self.budget, "seeds": self.seeds, "first_seed": self.first_seed,
                "best_val_mean": round(self.best_val[0], 6), "best_val_ci95": round(self.best_val[1], 6),
                "test_mean": round(self.test[0], 6), "test_ci95": round(self.test[1], 6),
                "regret_mean": round(self.regret[0], 6), "regret_ci95": round(self.regret[1], 6),
                "found_optimum": round(self.found_optimum, 3), "reward_variance": round(self.reward_variance, 6),
                "encodings": self.encodings, "architectures": self.architectures}


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (normal approximation)."""
    if len(values) < 2:
        return (values[0] if values else math.nan), math.nan
    return statistics.fmean(values), Z95 * statistics.stdev(values) / math.sqrt(len(values))


def summarize(table: Table, strategy: str, traces: Sequence[Trace], budgets: Iterable[int], landscape: str = "",
              held_out: bool = True, first_seed: int = 0) -> list[Summary]:
    optimum = table.best[1].val_accuracy
    out = []
    for budget in budgets:
        found = [trace.at(budget) for trace in traces]
        out.append(Summary(
            strategy, budget, len(traces),
            best_val=mean_ci([v for v, _ in found]),
            test=mean_ci([t for _, t in found]),
            regret=mean_ci([optimum - v for v, _ in found]),
            found_optimum=sum(v >= optimum for v, _ in found) / len(found),
            reward_variance=statistics.fmean(statistics.pvariance(t.rewards) for t in traces),
            landscape=landscape, held_out=held_out, first_seed=first_seed,
            encodings=math.prod(table.space.num_choices), architectures=table.space.size,
        ))
    return out


def run_study(source: str, strategies: Sequence[str], seeds: Sequence[int], budget: int,
              configs: Mapping[str, AgentConfig] | None = None, workers: int = 1,
              progress: Callable[[str], None] = print) -> dict[str, list[Trace]]:
    """Every strategy on every seed, `workers` processes at a time, on the landscape `source` (a name in
    landscapes.LANDSCAPES or a table file); traces per strategy, in seed order. On a terminal, a
    progress bar counts the searches (a landscape's study can take half an hour). Ctrl-C stops the
    worker processes through this one (the pool ends them), not each with a traceback of its own."""
    configs = configs or {}
    jobs = [(strategy, seed, budget, configs.get(strategy)) for strategy in strategies for seed in seeds]
    traces: dict[str, list[Trace]] = {s: [] for s in strategies}
    with tqdm(total=len(jobs), unit="search", leave=False, dynamic_ncols=True, disable=None) as bar:
        if workers > 1:
            with sigint_blocked():  # in the worker processes for good: Ctrl-C stops them through this one
                pool = multiprocessing.get_context("spawn").Pool(workers, _init_worker, (source,))
            with pool:
                results: Iterable[Trace] = pool.imap(_job, jobs, chunksize=max(1, len(seeds) // (4 * workers)))
                _collect(jobs, results, traces, len(seeds), progress, bar)
        else:
            _init_worker(source)
            _collect(jobs, map(_job, jobs), traces, len(seeds), progress, bar)
    return traces


def _collect(jobs: Sequence[tuple[str, int, int, AgentConfig | None]], results: Iterable[Trace],
             traces: dict[str, list[Trace]], per_strategy: int, progress: Callable[[str], None], bar: tqdm) -> None:
    for (strategy, _, _, _), trace in zip(jobs, results, strict=True):
        traces[strategy].append(trace)
        bar.update()
        if len(traces[strategy]) == per_strategy:
            with tqdm.external_write_mode():  # the bar steps aside for the line
                progress(f"  {strategy}: {per_strategy} searches done")


_TABLE: Table | None = None  # each worker process reads the table once


def _init_worker(source: str) -> None:
    global _TABLE
    # the policy network's tensors are tiny; processes, not threads, run in parallel
    torch.set_num_threads(1)
    _TABLE = landscapes.load(source)


def _job(job: tuple[str, int, int, AgentConfig | None]) -> Trace:
    assert _TABLE is not None
    strategy, seed, budget, config = job
    return run_search(_TABLE, strategy, seed, budget, config)


def format_table(summaries: Sequence[Summary], optimum: float) -> str:
    """The comparison, one line per strategy and budget, as the terminal shows it."""
    lines = [f"  {'strategy':<22} {'budget':>6} {'best val (95% CI)':>19} {'its test':>17} "
             f"{'regret (95% CI)':>17} {'found opt':>9} {'reward var':>10}"]
    for s in summaries:
        lines.append(f"  {s.strategy:<22} {s.budget:>6} {s.best_val[0]:>10.4f} ±{s.best_val[1]:.4f} "
                     f"{s.test[0]:>8.4f} ±{s.test[1]:.4f} {s.regret[0]:>8.4f} ±{s.regret[1]:.4f} "
                     f"{s.found_optimum:>9.0%} {s.reward_variance:>10.5f}")
    lines.append(f"  (table optimum: validation accuracy {optimum:.4f})")
    return "\n".join(lines)


RIVALS = ("evolution", "tpe", "random")  # what the verdict holds REINFORCE against


def verdict(summaries: Sequence[Summary], agent: str = "reinforce") -> list[str]:
    """On each held-out landscape and budget: is `agent`'s mean regret at most each rival's (within
    the two intervals: its mean minus its half-width <= the rival's mean plus the rival's)?"""
    found = {(s.landscape, s.strategy, s.budget): s for s in summaries if s.held_out}
    lines = []
    for (landscape, strategy, budget), ours in found.items():
        if strategy != agent:
            continue
        parts = []
        for rival in RIVALS:
            theirs = found.get((landscape, rival, budget))
            if theirs is None:
                continue
            if ours.regret[0] <= theirs.regret[0]:
                word = "<="
            elif ours.regret[0] - ours.regret[1] <= theirs.regret[0] + theirs.regret[1]:
                word = "~"  # worse in the mean, within the intervals
            else:
                word = ">"
            parts.append(f"{word} {rival} {theirs.regret[0]:.4f}")
        lines.append(f"  {landscape:<14} {budget:>4}: {agent} {ours.regret[0]:.4f} ±{ours.regret[1]:.4f}  "
                     + ", ".join(parts))
    return lines


def curves(table: Table, traces: Mapping[str, Sequence[Trace]], budget: int) -> dict[str, plots.Band]:
    """Best-so-far regret against architectures trained, mean and 95% band per strategy (in points)."""
    optimum = table.best[1].val_accuracy
    out: dict[str, plots.Band] = {}
    for strategy, runs in traces.items():
        means, lows, highs = [], [], []
        for n in range(1, budget + 1):
            mean, half = mean_ci([100 * (optimum - trace.at(n)[0]) for trace in runs])
            means.append(mean)
            lows.append(max(0.0, mean - half))
            highs.append(mean + half)
        out[strategy] = (means, lows, highs)
    return out

"""Where the agents' regret on `sparse-1.7m` comes from (benchmarks/sparse-parts.txt).

    .venv/bin/python benchmarks/sparse_parts.py VARIANT STRATEGY[,STRATEGY...] FIRST_SEED STOP_SEED

`sparse-1.7m`'s value is 0.75 + a part of the three decisions that decide (an amount per choice of
each, up to 0.02, and one per pair of their choices, up to 0.01) + a part of the five that barely
matter (up to 0.0005 per choice). The two parts are independent, so the regret of an architecture
is the sum of the two parts' regrets. Each search runs through the real NASController on the table,
as `bench strategies` does (the same seeds give the same searches: its rows at 50, 100 and 200),
and prints, per budget, the mean regret, each part's, and how often the best found has the best
choices of the three that decide. VARIANT is the landscape searched:

    sparse     sparse-1.7m itself
    pure       the same without the five decisions that barely matter (their amounts 0)
    additive3  the same without them and without the pairs: three additive decisions, five idle
"""

from __future__ import annotations

import functools
import itertools
import random
import statistics
import sys
import time
from dataclasses import replace
from multiprocessing import Pool

import torch

from nas_pattern import NASController, SearchConfig
from nas_pattern.agents import AGENTS, AgentConfig
from nas_pattern.bench import landscapes
from nas_pattern.bench.landscapes import LARGE_SPACE, SPARSE_STEPS, SYNTHETIC_SEED, Table, _columns, _large, _uniform
from nas_pattern.config import EXIT_INTERRUPTED, OneLineParser
from nas_pattern.files import sigint_blocked
from nas_pattern.networks.tabular import TabularNetwork
from nas_pattern.search_space import Architecture

BUDGETS = (50, 100, 200)
VARIANTS = ("sparse", "pure", "additive3")
N = LARGE_SPACE.num_choices
MINOR = [t for t in range(len(N)) if t not in SPARSE_STEPS]
# sparse_large()'s amounts, drawn again in its order from its generator
_rng = random.Random(f"{SYNTHETIC_SEED}-sparse-large")
AMOUNTS = [_uniform(_rng, 0.02 if t in SPARSE_STEPS else 0.0005, k) for t, k in enumerate(N)]
PAIRS = {(a, b): _uniform(_rng, 0.01, N[a], N[b]) for a, b in itertools.combinations(SPARSE_STEPS, 2)}


def deciding(x: list[int], pairs: bool) -> float:
    """The part of the three decisions that decide, of the choices `x`."""
    return sum(float(AMOUNTS[t][x[t]]) for t in SPARSE_STEPS) + \
        pairs * sum(float(p[x[a], x[b]]) for (a, b), p in PAIRS.items())


def idle(x: list[int]) -> float:
    """The part of the five that barely matter."""
    return sum(float(AMOUNTS[t][x[t]]) for t in MINOR)


def table(variant: str) -> Table:
    if variant == "sparse":
        return landscapes.load("sparse-1.7m")
    c = _columns(LARGE_SPACE)
    values = torch.full((len(c[0]),), 0.75, dtype=torch.float64)
    for t in SPARSE_STEPS:
        values += AMOUNTS[t][c[t]]
    if variant == "pure":
        for (a, b), p in PAIRS.items():
            values += p[c[a], c[b]]
    return _large(f"sparse-{variant}", LARGE_SPACE, values)


_TABLE: Table | None = None


def _init(variant: str) -> None:
    global _TABLE
    torch.set_num_threads(1)
    _TABLE = table(variant)


def search(job: tuple[str, int, bool]) -> tuple[str, dict[int, tuple[float, float, float]]]:
    """One search of 200 distinct architectures: at each budget, (the regret of the three that
    decide, of the five that barely matter, the best validation accuracy) of the best found."""
    strategy, seed, pairs = job
    assert _TABLE is not None
    space = _TABLE.space
    def choices(three: tuple[int, ...]) -> list[int]:
        x = [0] * len(N)
        for t, choice in zip(SPARSE_STEPS, three, strict=True):
            x[t] = choice
        return x

    best_deciding = max(deciding(choices(c), pairs) for c in itertools.product(*(range(N[t]) for t in SPARSE_STEPS)))
    best_idle = sum(float(AMOUNTS[t].max()) for t in MINOR)
    agent = AGENTS[strategy](space, replace(AgentConfig(), seed=seed))
    controller = NASController(agent, _TABLE.dataset(), network=functools.partial(TabularNetwork, table=_TABLE),
                               config=SearchConfig(episodes=200 * 4, stop_entropy=0.0, seed=seed))
    best: list[Architecture | float | None] = [None, -1.0]
    out: dict[int, tuple[float, float, float]] = {}

    def record(episode) -> None:  # type: ignore[no-untyped-def]
        if episode.cached or episode.metrics is None:
            return
        value = _TABLE.rows[episode.architecture].val_accuracy
        if value > best[1]:  # type: ignore[operator]
            best[:] = [episode.architecture, value]
        trained = sum(1 for e in controller.history if not e.cached and e.metrics is not None)
        if trained in BUDGETS:
            x = space.encodings(best[0])[0]  # type: ignore[arg-type]
            out[trained] = (best_deciding - deciding(x, pairs), best_idle - idle(x), float(best[1]))  # type: ignore[arg-type]
        if trained == BUDGETS[-1]:
            controller.stop()

    controller.add_callback(record)
    controller.search()
    return strategy, out


def main(variant: str, strategies: list[str], seeds: range) -> None:
    start = time.time()
    optimum = float(table(variant).best[1].val_accuracy)
    with sigint_blocked():  # in the workers for good: a terminal's Ctrl-C stops them through this process
        pool = Pool(2, initializer=_init, initargs=(variant,))
    with pool:
        results = pool.map(search, [(s, seed, variant != "additive3") for s in strategies for seed in seeds])
    print(f"{variant}: seeds {seeds.start}-{seeds.stop - 1}; mean ± 95% half-width over the seeds")
    for strategy in strategies:
        for budget in BUDGETS:
            rows = [out[budget] for s, out in results if s == strategy]
            regret = [optimum - r[2] for r in rows]
            parts = [[r[0] for r in rows], [r[1] for r in rows]]

            def show(values: list[float]) -> str:
                return f"{statistics.mean(values):.4f} ±{1.96 * statistics.stdev(values) / len(values) ** 0.5:.4f}"

            found = sum(1 for r in rows if r[0] < 1e-5) / len(rows)
            five = f" + five that barely matter {show(parts[1])}" if variant == "sparse" else ""
            print(f"  {strategy:<10} {budget:>3}: regret {show(regret)} = three that decide {show(parts[0])} "
                  f"(their best in {found:.0%}){five}")
    print(f"  ({time.time() - start:.0f} s on 2 processes)")


def command_line(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="benchmarks/sparse_parts.py", description=__doc__.split("\n\n")[0])
    p.add_argument("variant", choices=VARIANTS, metavar="VARIANT", help=f"one of {', '.join(VARIANTS)}")
    p.add_argument("strategies", type=lambda text: text.split(","), metavar="STRATEGY[,STRATEGY...]",
                   help=f"of {', '.join(AGENTS)}")
    p.add_argument("first_seed", type=int, metavar="FIRST_SEED")
    p.add_argument("stop_seed", type=int, metavar="STOP_SEED", help="the seeds FIRST_SEED..STOP_SEED - 1")
    args = p.parse_args(argv)
    unknown = [name for name in args.strategies if name not in AGENTS]
    if unknown or args.stop_seed <= args.first_seed + 1:
        p.error(f"unknown strategy {unknown[0]!r}" if unknown else "STOP_SEED must be at least FIRST_SEED + 2 "
                "(an interval needs two seeds)")
    try:
        main(args.variant, args.strategies, range(args.first_seed, args.stop_seed))
    except KeyboardInterrupt:  # the pool's workers, born with SIGINT blocked, are ended with it
        print(f"\n{p.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(command_line())

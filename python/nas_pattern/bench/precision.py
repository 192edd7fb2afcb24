"""`bench precision`: does a busy machine change the CPU precision "auto" chooses? Fresh probes
(no cache) on an idle machine and beside CPU hogs, each judged by the probe's rule (the median of
interleaved rounds), by the same rule on its first 15 rounds (the probe's length before), and by the
rule issue 25 replaced (the best of 3 rounds)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from nas_pattern import precision

PROBES = 5  # fresh probes per kind and load (--seeds changes it)
EARLIER_ROUNDS = 15  # the median rule on a probe's first 15 rounds: the probe's length before 45


def precision_section(args: argparse.Namespace, device: torch.device) -> None:
    probes = args.seeds or PROBES
    hogs = os.cpu_count() or 1
    print(f"precision: {probes} fresh probes per child kind, idle and beside {hogs + 1} CPU hogs, with "
          f"{torch.get_num_threads()} threads; bf16 chosen under {precision.BF16_MARGIN:.0%} of fp32's step")
    print(f"  {'kind':<10} {'load':<7} {'fp32 ms':>8} {'bf16 ms':>8} {'chosen (median rule)':>22} "
          f"{f'median of {EARLIER_ROUNDS}':>16} {'best-of-3 rule':>16}")
    for kind in ("conv", "recurrent"):
        for load in ("idle", "busy"):
            with _hogs(hogs + 1 if load == "busy" else 0):
                runs = [precision._probe(kind) for _ in range(probes)]
            ours = Counter(precision.choose_precision(run) for run in runs)
            fewer = Counter(precision.choose_precision({name: rounds[:EARLIER_ROUNDS] for name, rounds in run.items()})
                            for run in runs)
            old = Counter(_best_of_three(run) for run in runs)
            fp32 = statistics.median(statistics.median(run["fp32"]) for run in runs)
            bf16 = statistics.median(statistics.median(run["bf16"]) for run in runs)
            print(f"  {kind:<10} {load:<7} {1000 * fp32:>8.2f} {1000 * bf16:>8.2f} {_tally(ours):>22} "
                  f"{_tally(fewer):>16} {_tally(old):>16}")
    print(f"  the choice a search uses is measured once per machine and kept in {precision.precision_cache_path()} "
          f"(${precision.PRECISION_ENV}=fp32 or bf16 overrides it)")


def _best_of_three(run: dict[str, list[float]]) -> str:
    """The rule of main before issue 25, on this probe's first rounds: the fastest round of each
    so far, up to 3 rounds, stopping early once one is twice as fast as the other."""
    for rounds in (1, 2, 3):
        fp32, bf16 = min(run["fp32"][:rounds]), min(run["bf16"][:rounds])
        if not 0.5 < bf16 / fp32 < 2:
            break
    return "bf16" if bf16 < precision.BF16_MARGIN * fp32 else "fp32"


def _tally(choices: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(choices.items()))


@contextmanager
def _hogs(count: int) -> Iterator[None]:
    """`count` processes spinning on the CPU for the duration of the block; stopped when it ends, a
    stop of the bench's included (SIGTERM is Ctrl-C there). In sessions of their own, so that a
    terminal's Ctrl-C reaches the bench alone, not them, each with a traceback."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                for _ in range(count)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()

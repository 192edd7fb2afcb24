"""The precision "auto" trains children in on a CPU: measured once per machine, then kept.

bf16 autocast is 2-3x faster on some CPUs and slower on others with the same flags, so it is
measured, not guessed. The measurement interleaves fp32 and bf16 and takes medians, and its answer
is kept in a small cache file, so a moment of load cannot change the precision, and with it the
search that a seed gives (issue 25).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

BF16_MARGIN = 0.9  # bf16 is chosen on a CPU only if its step takes under 90% of fp32's (median of rounds)
PRECISION_ENV = "NAS_PATTERN_PRECISION"  # fp32, bf16 or conv=..,recurrent=..: what "auto" means on a CPU
CACHE_ENV = "NAS_PATTERN_CACHE"  # the folder of the per-machine precision cache (default ~/.cache/nas-pattern)
CACHE_FILE = "cpu-precision.json"
# Interleaved rounds per precision, each of PROBE_STEPS training steps: 45, not 15, because beside 3
# CPU hogs on 2 cores the median of 15 still flipped 1 GRU probe in 16 to bf16 and 2 CNN probes in
# 16 to fp32, and 45 fewer (benchmarks/precision.txt). ~2 s a kind on an idle CPU, once per machine.
PROBE_ROUNDS = 45
PROBE_STEPS = 2


def cpu_precision(kind: str) -> str:
    """The precision "auto" trains a child of this kind in on this CPU, with this process's threads.

    $NAS_PATTERN_PRECISION (fp32 or bf16, or one per kind) decides, when set. Otherwise the choice is measured once
    per machine, never guessed from CPU flags (oneDNN's bf16 convolutions are 2-3x faster on some
    CPUs with native bf16 and slower on others; issue 17: an Intel Xeon with avx512_bf16 trained
    the reference CNN at 2,482 img/s in bf16, 3,922 in fp32), and kept in a cache file keyed by the
    CPU model, torch's version and the thread count: later processes read it, so a busy moment
    cannot give the same seed another search (issue 25)."""
    if kind == "other":
        return "fp32"
    forced = os.environ.get(PRECISION_ENV, "").strip()
    if forced:
        return _forced(forced, kind)
    return _machine_precision(kind, torch.get_num_threads())


def _forced(text: str, kind: str) -> str:
    """What $NAS_PATTERN_PRECISION says for `kind`: "fp32" or "bf16" for every kind, or one per
    kind, "conv=bf16,recurrent=fp32" (what the test suite pins); ValueError naming the format."""
    if text in ("fp32", "bf16"):
        return text
    pairs = dict(part.strip().partition("=")[::2] for part in text.split(","))
    if set(pairs) != {"conv", "recurrent"} or not set(pairs.values()) <= {"fp32", "bf16"}:
        raise ValueError(f"{PRECISION_ENV} must be fp32 or bf16, or conv=fp32|bf16,recurrent=fp32|bf16; "
                         f"got {text!r}")
    return pairs[kind]


@functools.cache
def _machine_precision(kind: str, threads: int) -> str:
    """The cached choice for this machine, measured (and cached) the first time it is asked for."""
    key = f"{cpu_model()} | torch {torch.__version__} | {threads} threads | {kind}"
    path = precision_cache_path()
    cache = _read_cache(path)
    if isinstance(cache.get(key), dict) and cache[key].get("precision") in ("fp32", "bf16"):
        return str(cache[key]["precision"])
    seconds = _probe(kind)
    choice, ratio = choose_precision(seconds), median_ratio(seconds)
    fp32, bf16 = statistics.median(seconds["fp32"]), statistics.median(seconds["bf16"])
    cache = _read_cache(path)  # another process may have written meanwhile: keep its entries
    # The ratio is what the choice was made on; the two medians are for reading (under load they
    # can disagree with it: each is the median of its own rounds, not of the rounds' pairs).
    cache[key] = {"precision": choice, "bf16_to_fp32": round(ratio, 3) if math.isfinite(ratio) else None,
                  "fp32_ms": round(1000 * fp32, 3),
                  "bf16_ms": round(1000 * bf16, 3) if math.isfinite(bf16) else None,
                  "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    _write_cache(path, cache)
    return choice


def choose_precision(seconds: dict[str, list[float]]) -> str:
    """ "bf16" if the median of the rounds' bf16/fp32 ratios is under the margin, else "fp32". The
    rounds are interleaved, so a round slowed by another process slows one ratio, not the median."""
    return "bf16" if median_ratio(seconds) < BF16_MARGIN else "fp32"


def median_ratio(seconds: dict[str, list[float]]) -> float:
    """The median over the interleaved rounds of bf16's time over fp32's (inf when none can be had)."""
    ratios = [b / f for f, b in zip(seconds["fp32"], seconds["bf16"], strict=True) if f > 0]
    return statistics.median(ratios) if ratios else math.inf


def cpu_model() -> str:
    """The CPU as /proc/cpuinfo names it (model name, family, model, stepping), or the platform's word."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name in ("model name", "cpu family", "model", "stepping") and name not in fields:
                fields[name] = value.strip()
            if not line.strip() and fields:
                break  # the first processor says it for all
    if "model name" in fields:
        return (f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}, "
                f"stepping {fields.get('stepping', '?')})")
    return platform.processor() or platform.machine() or "unknown CPU"


def precision_cache_path() -> Path:
    """Where the measured choices are kept: $NAS_PATTERN_CACHE, else $XDG_CACHE_HOME/nas-pattern, else
    ~/.cache/nas-pattern."""
    folder = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "nas-pattern")
    return Path(folder) / CACHE_FILE


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or damaged: measured again and rewritten
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, cache: dict[str, Any]) -> None:
    """Write the cache atomically; a cache that cannot be written costs a warning, never the search."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=path.name, suffix=".tmp",
                                         delete=False) as f:
            json.dump(cache, f, indent=1, sort_keys=True)
        os.replace(f.name, path)
    except OSError as err:
        warnings.warn(f"cannot keep the measured CPU precision in {path} ({err}); each process measures it "
                      f"again (set {PRECISION_ENV} to fp32 or bf16 to skip the probe)", stacklevel=2)


def _probe(kind: str) -> dict[str, list[float]]:
    """Seconds per training step of a probe child of `kind` (the reference CNN, or a GRU-128, on a
    batch of 16 images of 28 x 28), per round, in fp32 and in bf16 (time_rounds). torch's global
    generators are not touched: the probe draws its weights and images from a generator of its own."""
    generator = torch.Generator().manual_seed(0)
    module = _probe_child(kind)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-0.05, 0.05, generator=generator)
    x = torch.randn(16, 1, 28, 28, generator=generator)  # (B, C, H, W)
    if kind == "conv":
        module.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(10, (16,), generator=generator)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)

    def step(name: str) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=name == "bf16"):
            loss = F.cross_entropy(module(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    try:
        return time_rounds(step)
    except RuntimeError:  # bf16 not computable here: fp32
        return {"fp32": [1.0], "bf16": [math.inf]}


def time_rounds(step: Callable[[str], None],
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds per `step(name)` for name fp32 and bf16: one warm-up step of each (oneDNN builds its
    kernels), then PROBE_ROUNDS rounds of PROBE_STEPS steps of each, interleaved (fp32 bf16, then
    bf16 fp32, ...) so that a busy moment falls on both alike and slows one round's ratio only."""
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for name in seconds:
        step(name)
    for round_ in range(PROBE_ROUNDS):
        for name in (("fp32", "bf16") if round_ % 2 == 0 else ("bf16", "fp32")):
            start = clock()
            for _ in range(PROBE_STEPS):
                step(name)
            seconds[name].append((clock() - start) / PROBE_STEPS)
    return seconds


class _Recurrent(nn.Module):
    """The recurrent probe child: a GRU-128 reading the image row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(28, 128, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(images.flatten(1, 2))  # (B, 28, 128)
        return self.head(out[:, -1])  # (B, classes)


def _probe_child(kind: str) -> nn.Module:
    """The reference CNN or the GRU, built on the meta device so that its default initialisation
    draws nothing from torch's generators; its weights are set by the probe."""
    with torch.device("meta"):
        module: nn.Module = _Recurrent() if kind != "conv" else nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    return module.to_empty(device="cpu")

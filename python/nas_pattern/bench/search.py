"""bench search: children per minute of one fixed search, local (one child at a time, and k at once
in worker processes) against Ray with k children per device (--executors picks them). Without Ray
installed (the GPU machines' image has none), the local rows alone, and a line saying why."""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

import torch

from nas_pattern.agents import AgentConfig, RLAgent
from nas_pattern.bench.common import SEARCH_CPU_TRAIN_LIMIT, train_images
from nas_pattern.controller import NASController
from nas_pattern.data import load_dataset
from nas_pattern.executor import Executor, LocalExecutor, RayExecutor, init_ray
from nas_pattern.networks import CNN_SPACE
from nas_pattern.records import SearchConfig
from nas_pattern.trainer import TrainConfig

SEARCH_CHILDREN = 32  # the fixed search the search section times (--children)
SEARCH_SHARES = (1, 2, 4, 8)  # children per device for the Ray executor, and at once for the local one on a GPU
EXECUTORS = ("local", "ray")  # --executors


def search_section(args: argparse.Namespace, device: torch.device) -> None:
    """Children per minute of one fixed search, local against Ray with k children per device."""
    limit = train_images(args, device, SEARCH_CPU_TRAIN_LIMIT)
    m = max(SEARCH_SHARES)  # children per update: enough to keep every worker of the largest k busy
    data = load_dataset("fashion-mnist", args.data_dir)
    config = SearchConfig(episodes=args.children, epochs=args.epochs, train_limit=limit, stop_entropy=0.0,
                          seed=args.seed)
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    cpus = os.cpu_count() or 1
    threads = torch.get_num_threads()
    with_ray = ray_installed()
    if args.executors is not None and "ray" in args.executors and not with_ray:  # named: an error
        raise ValueError(f"--executors {','.join(args.executors)}: Ray is not installed here "
                         "(pip install 'nas-pattern[ray]')")
    executors = args.executors or (EXECUTORS if with_ray else ("local",))  # None: the default
    print(f"search: {args.children} CNN children of the default space, {args.epochs} epoch(s) on "
          f"{limit or len(data.train):,} images each, m = {m}, seed {args.seed} in every row (the "
          f"same architectures while the rewards agree: fewer threads per worker can change their last "
          f"digits); children per minute of the search, without the start-up; "
          + (f"Ray on this machine ({gpus} GPU(s), {cpus} CPUs)" if "ray" in executors else
             "no Ray rows: not asked for" if args.executors is not None else
             "no Ray rows: Ray is not installed here (pip install 'nas-pattern[ray]')")
          + ("; k: local, children at once in worker processes sharing the GPU; ray, children per device"
             if device.type == "cuda" else
             f"; k: local, children at once in worker processes sharing the {threads} threads (ray, per CPU share)"))
    print(f"  {'executor':<9} {'k':>2} {'workers':>7} {'start s':>7} {'search s':>8} {'children/min':>12} "
          f"{'vs local':>8} {'best val':>8}")
    local_rate = 0.0
    # The local executor also trains K children at once, in worker processes sharing the GPU, or on a
    # CPU the threads PyTorch uses (more workers than threads would only contend)
    at_once = SEARCH_SHARES if device.type == "cuda" else tuple(k for k in SEARCH_SHARES if k <= threads)
    runs: list[tuple[str, int, Executor]] = [
        ("local", k, LocalExecutor(children_at_once=k)) for k in at_once] if "local" in executors else []
    if "ray" in executors:
        init_ray()
        runs += [("ray", k, RayExecutor(gpus_per_child=1 / k if gpus else 0.0, cpus_per_child=1.0 if gpus else cpus / k,
                                        max_workers=k * max(gpus, 1))) for k in SEARCH_SHARES]
    for name, k, executor in runs:
        start = time.perf_counter()
        controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=m, seed=args.seed)), data,
                                   config=config, train_config=TrainConfig.for_device(device), device=device,
                                   executor=executor)
        started = time.perf_counter() - start
        workers = len(executor.actors) if isinstance(executor, RayExecutor) else k  # local: k at once
        try:
            result = controller.search()
        finally:
            executor.close()
        rate = len(result.episodes) / result.seconds * 60
        local_rate = rate if (name, k) == ("local", 1) else local_rate
        ratio = f"{rate / local_rate:>7.2f}x" if local_rate else f"{'-':>8}"  # -: local not asked for
        print(f"  {name:<9} {k:>2} {workers:>7} {started:>7.1f} {result.seconds:>8.1f} "
              f"{rate:>12.1f} {ratio} {result.best.accuracy:>8.4f}")


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None

"""Probe: K graphed children training at once in threads of one process, each on its own CUDA stream.

The local executor's --children-at-once runs K children in worker processes, which share a GPU by
time-slicing between their CUDA contexts: on an H200 that lost (README, Parallel children). Threads
in one process share one context, so their kernels can run side by side. This probe measures what
that could win for the training itself, before any of it is built into the executor: K reference
CNN children (no dropout, so no random numbers are shared), each trained one epoch on the 55,000
training images by trainer.fit on a thread and stream of its own, its steps captured per thread
(capture_error_mode "thread_local"). It prints the images per second of all K together against
K = 1. Run it on a GPU machine: python benchmarks/streams_probe.py [cuda|cpu] [K ...]
(on a CPU, without graphs, only to try the script: PROBE_IMAGES=500 trains 500 images per child).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

import torch

from nas_pattern.bench.common import REFERENCE_CNN, build_network
from nas_pattern.data import load_dataset
from nas_pattern.graphs import Replay, Step
from nas_pattern.trainer import Fitted, TrainConfig, fit, on_device


def capture_per_thread(step: Step, inputs: list[torch.Tensor]) -> Replay:
    """graphs.capture_cuda_graph, capturing in this thread only (others keep launching meanwhile)."""
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        graph.capture_begin(capture_error_mode="thread_local")
        step(*inputs)
        graph.capture_end()
    torch.cuda.current_stream().wait_stream(stream)
    return graph.replay


def main() -> None:
    device = torch.device(sys.argv[1] if len(sys.argv) > 1 else "cuda")
    counts = [int(k) for k in sys.argv[2:]] or [1, 2, 4, 8]
    data = load_dataset("fashion-mnist")
    config = TrainConfig.for_device(device)
    train = on_device(data.train.head(int(os.environ.get("PROBE_IMAGES", 0)) or None), device, config.channels_last)
    capture = capture_per_thread if device.type == "cuda" else None
    print(f"streams probe on {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}, torch "
          f"{torch.__version__}: K reference CNN children at once, one epoch of {len(train):,} images each, "
          f"batch {config.batch_size}, a thread and a stream each")
    print(f"  {'K':>2} {'wall s':>7} {'img/s':>9} {'vs K=1':>7}  steps")
    base = 0.0
    for k in [1, *counts]:  # the first K = 1 warms the process up and is not printed
        fitted: list[Fitted] = []
        errors: list[BaseException] = []

        def child(seed: int, fitted: list[Fitted], errors: list[BaseException]) -> None:
            try:
                stream = torch.cuda.Stream(device) if device.type == "cuda" else None
                with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
                    network = build_network("CNN", REFERENCE_CNN, config, device, seed)
                    assert network.module is not None
                    fitted.append(fit(network.module, train, 1, config, device, torch.Generator().manual_seed(seed),
                                      capture=capture))
            except BaseException as err:  # reported below, with the thread's K
                errors.append(err)

        threads = [threading.Thread(target=child, args=(seed, fitted, errors)) for seed in range(k)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        wall = time.perf_counter() - start
        if base == 0.0:
            base = -1.0  # the warm-up round
            continue
        speed = k * len(train) / wall
        base = speed if base < 0 else base
        steps = sorted({f.execution for f in fitted}) + [f"{type(e).__name__}: {e}" for e in errors]
        print(f"  {k:>2} {wall:>7.3f} {speed:>9,.0f} {speed / base:>6.2f}x  {'; '.join(steps)}", flush=True)


if __name__ == "__main__":
    main()

"""StepGraphs: a child's training step (or evaluation pass) replayed from CUDA graphs.

On a GPU a small child's step is bound by Python and kernel launches, not by the GPU: 1.9 ms a step
of the reference CNN at batch 256 on an H100, fp32 or bf16 alike (issue 17). A CUDA graph records
the kernels of one step once and launches them all again with one call. The trainer hands its step
to StepGraphs, which, for each shape of input it is given:

- runs the first `warmup` steps of that shape eagerly, on a side stream (what torch asks before a
  capture: lazy initialisation such as the optimizer's state and cuBLAS's workspace happens there);
- then captures the step once into a graph of its own and replays that graph from then on, the
  step's inputs copied into the graph's own input tensors first.

So the last partial batch of an epoch is a second captured shape (not a padded, masked batch, which
would change the statistics BatchNorm takes of it): it runs eagerly until it has been seen `warmup`
times, then from its graph. Random numbers stay random per step: torch's generator hands each replay
a fresh offset, so dropout draws new masks every step, from the child's own seed.

A capture that fails (an operation that cannot be captured) leaves the step to eager execution for
the rest of the child, and `failure` says why; the trainer records it in the episode. Off the GPU
StepGraphs runs the step eagerly, unless it is given a `capture` of its own (the tests give one that
records the step as a Python call, to check this bookkeeping on the CPU).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator

import torch

WARMUP_STEPS = 3  # eager steps of each input shape before it is captured (torch's examples take 3)

Step = Callable[..., None]  # the step: reads its input tensors, writes its results into tensors it holds
Replay = Callable[[], None]
# capture(step, inputs) -> a call that runs `step` again on whatever `inputs` then hold
Capture = Callable[[Step, list[torch.Tensor]], Replay]


def capture_cuda_graph(step: Step, inputs: list[torch.Tensor]) -> Replay:
    """`step(*inputs)` recorded into a CUDA graph (nothing runs yet); the graph's replay. Captured on a
    side stream without torch.cuda.graph's synchronize and empty_cache (the cached blocks serve the
    next children)."""
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        graph.capture_begin()
        try:
            step(*inputs)
        except BaseException:
            with contextlib.suppress(Exception):  # the capture is void; end it so the stream works again
                graph.capture_end()
            raise
        graph.capture_end()
    torch.cuda.current_stream().wait_stream(stream)
    return graph.replay


def graphs_wanted(enabled: bool, device: torch.device, capture: Capture | None = None) -> bool:
    """Whether steps are captured: when enabled, on CUDA, or wherever a capture is given (the tests' on the CPU)."""
    return enabled and (device.type == "cuda" or capture is not None)


class StepGraphs:
    """Calls `step(*inputs)`, from a CUDA graph per input shape once that shape has warmed up."""

    def __init__(self, step: Step, device: torch.device, enabled: bool = True, warmup: int = WARMUP_STEPS,
                 capture: Capture | None = None):
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self.step = step
        self.device = device
        self.enabled = graphs_wanted(enabled, device, capture)
        self.warmup = warmup
        self.capture = capture or capture_cuda_graph
        self.graphs: dict[tuple[object, ...], tuple[Replay, list[torch.Tensor]]] = {}  # shape -> replay, inputs
        self.seen: Counter[tuple[object, ...]] = Counter()  # eager warm-up steps taken, per shape
        self.failure = ""  # why a capture failed (then every step runs eagerly); "" if none did
        self.replayed = 0  # steps run from a graph
        self.eager = 0  # steps run eagerly (warm-up, failure, or graphs off)

    @property
    def execution(self) -> str:
        """How the steps ran, for the record: "cuda graphs" (all but the warm-up), "eager", or
        "eager (CUDA graph capture failed: why)"."""
        if self.failure:
            return f"eager (CUDA graph capture failed: {self.failure})"
        return "cuda graphs" if self.graphs else "eager"

    def __call__(self, *inputs: torch.Tensor) -> None:
        key = tuple((tuple(t.shape), t.dtype) for t in inputs)
        graphed = self.graphs.get(key)
        if graphed is not None:
            replay, static = graphed
            for mine, given in zip(static, inputs, strict=True):
                mine.copy_(given, non_blocking=True)
            replay()
            self.replayed += 1
            return
        if not self.enabled or self.failure:
            self._eager(inputs)
            return
        if self.seen[key] < self.warmup:
            self.seen[key] += 1
            with self._side_stream():
                self._eager(inputs)
            return
        static = [t.clone() for t in inputs]
        try:
            replay = self.capture(self.step, static)
        except Exception as err:  # e.g. an operation that waits for the GPU, which a capture cannot hold
            # records.first_line, written out: records imports the networks, which import this module
            text = str(err).strip().splitlines()
            self.failure = f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
            self._eager(inputs)
            return
        self.graphs[key] = (replay, static)
        replay()  # capturing ran nothing: this is the step itself
        self.replayed += 1

    def _eager(self, inputs: tuple[torch.Tensor, ...]) -> None:
        self.step(*inputs)
        self.eager += 1

    @contextlib.contextmanager
    def _side_stream(self) -> Iterator[None]:
        if self.device.type != "cuda":
            yield
            return
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            yield
        torch.cuda.current_stream(self.device).wait_stream(stream)

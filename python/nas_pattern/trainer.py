"""The child trainer: trains and evaluates one `nn.Module` on tensors already on its device.

Shared by every PyTorch child (CNN, RNN). Batches are sliced from one tensor per split with a
fresh permutation per epoch; the loss is summed on the device and checked once per epoch, so the
step loop never waits for the device. Convolutions run channels-last, under bf16 autocast when it is
the precision measured faster on this hardware (see TrainConfig.precision, cpu_precision). On a
CUDA GPU each step and each evaluation pass is replayed from a CUDA graph once warm (graphs.py).

One piece: fit(), evaluate() and what they share (TrainConfig, the device and its CUDA flags, the
precision, the passes' size and the heap settings that make it pay) change together.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_pattern.data import Split
from nas_pattern.graphs import Capture, StepGraphs, graphs_wanted
from nas_pattern.precision import cpu_precision


class ChildDiverged(RuntimeError):
    """The child's loss became NaN or infinite."""


class ChildTimeout(RuntimeError):
    """The child ran past its deadline (--child-timeout)."""


class ResumeMismatch(ValueError):
    """fit()'s `resume` is not the state of a training of this module (another architecture's)."""


@dataclass(frozen=True)
class TrainConfig:
    """How each child is trained (the same for every child of a search)."""

    batch_size: int = 32  # images per step
    learning_rate: float = 2e-3  # AdamW step size at 32 images per step, scaled by sqrt(batch_size / 32)
    # (the square-root rule for Adam); 4e-3 at 32 learns faster but kills some wide unpooled CNNs
    weight_decay: float = 0.0  # L2 penalty (AdamW-style, decoupled)
    eval_batch_size: int = 1000  # images per forward pass when evaluating (at most: see eval_pass_bytes)
    # On a CPU, an evaluation pass takes only as many images as keep each layer's output under this many
    # bytes (at 4 a value; 0: no bound). glibc serves a block above its 32 MiB ceiling as a fresh
    # mapping every time, each page zero-filled by the kernel on first touch: passes of 1000 images
    # made a wide unpooled child's evaluation 1.8x slower, nearly all of it system time (bench
    # trainer). Smaller blocks come from the heap once hold_heap() has set glibc up to keep them
    eval_pass_bytes: int = 16 * 2**20
    # "fp32", "bf16" (autocast), or "auto": bf16 on CUDA GPUs that have it; on a CPU, whichever a
    # probe measured faster for the child's kind (cpu_precision); a run records what auto chose
    precision: str = "auto"
    channels_last: bool = True  # NHWC memory layout for convolutions (faster with oneDNN and cuDNN)
    # CUDA: deterministic algorithms only (cuDNN's and torch's), so the same seed on the same GPU
    # gives the same search bit for bit; slower. The CPU is deterministic without it (--deterministic).
    deterministic: bool = False
    # CUDA: each child's training step and evaluation pass replayed from CUDA graphs once warm, an
    # eager step where a capture fails (graphs.StepGraphs). Off the GPU it changes nothing.
    cuda_graphs: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"batch sizes must be >= 1, got {self.batch_size} and {self.eval_batch_size}")
        if not self.learning_rate > 0:  # else every child would fail in AdamW, one after another
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.eval_pass_bytes < 0:
            raise ValueError(f"eval_pass_bytes must be >= 0 (0: no bound), got {self.eval_pass_bytes}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")

    @classmethod
    def for_device(cls, device: torch.device) -> TrainConfig:
        """The defaults, with the larger batches a GPU needs to be kept busy (step size scaled)."""
        return cls(batch_size=256) if device.type == "cuda" else cls()

    @property
    def step_size(self) -> float:
        """The AdamW learning rate used at this batch size."""
        return self.learning_rate * math.sqrt(self.batch_size / 32)


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


def reachable_device(device: torch.device | str | int) -> torch.device:
    """`device` as a torch.device (load_model's "cuda:1", say); ValueError if torch does not know
    it, or if it is CUDA and torch sees no GPU."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; expected cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was asked for, but torch sees no CUDA GPU; use the cpu")
    return device


# Held while torch's global generators are seeded and used: searches running at once in one process
# (two JVM controllers on one engine) would otherwise draw from each other's seeds.
_GLOBAL_GENERATORS = threading.RLock()


def torch_seed(seed: int) -> int:
    """Any integer as a seed of PyTorch's 64-bit generators: a child's seed (seed * 100003 + episode)
    overflowed them for a large --seed. A negative one is reduced as torch itself reads it."""
    return seed % 2**64


def generator(seed: int) -> torch.Generator:
    """A CPU generator of its own, seeded with any integer (torch_seed)."""
    return torch.Generator().manual_seed(torch_seed(seed))


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch's global generators inside a block, restoring them afterwards; one block at a
    time in this process, so that the same seed gives the same weights whatever runs beside it."""
    cuda_devices = [device.index or 0] if device is not None and device.type == "cuda" else []
    with _GLOBAL_GENERATORS, torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(torch_seed(seed))
        yield


def device_name(device: torch.device) -> str:
    """The device as a person reads it: the GPU's name, or the CPU and its threads."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})"


@dataclass(frozen=True)
class Epoch:
    """An epoch fit() has finished: its number (1-based), its mean training loss, and state(): what
    fit(resume=...) needs to go on from the end of this epoch as if it had never stopped (the
    module's weights, the optimizer's moments, and the generators of the batch order and the
    dropout masks), for python -m nas_pattern.train's checkpoint."""

    number: int
    loss: float
    state: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Fitted:
    """What fit() reports: the seconds it took (those before a resume too) and how its steps ran
    (StepGraphs.execution)."""

    seconds: float
    execution: str


def fit(module: nn.Module, data: Split, epochs: int, config: TrainConfig, device: torch.device,
        generator: torch.Generator, deadline: float | None = None,
        on_epoch: Callable[[Epoch], None] | None = None, capture: Capture | None = None,
        resume: dict[str, Any] | None = None) -> Fitted:
    """Train `module` in place for `epochs` passes over `data`; the seconds spent and how.

    On CUDA (config.cuda_graphs) each batch shape's step is replayed from a CUDA graph once warm
    (graphs.StepGraphs; `capture` replaces the CUDA capture, for tests). Raises ChildDiverged if an
    epoch's loss is not finite, ChildTimeout once time.monotonic() passes `deadline` (checked
    between steps). `on_epoch(Epoch)` is called after each epoch, for progress and checkpoints (it
    may evaluate the module: training goes on in training mode); `resume`, an Epoch's state(), goes
    on after that epoch (call it within the same seeded() block as the training it continues: it
    sets torch's global generator, which draws the dropout masks).
    """
    with cuda_flags(config, device):
        start = time.perf_counter()
        x, y, _ = _prepare(module, data, config, device)  # (N, C, H, W), (N,), name
        module.train()
        graphed = graphs_wanted(config.cuda_graphs, device, capture)
        optimizer = torch.optim.AdamW(module.parameters(), lr=config.step_size, weight_decay=config.weight_decay,
                                      fused=device.type == "cuda", capturable=graphed and device.type == "cuda")
        bf16 = use_bf16(module, config, device)
        epoch_loss = torch.zeros((), device=device)  # summed on the device: no sync per step

        def step(batch: torch.Tensor) -> None:  # one minibatch, the indices of its images
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=not graphed):
                logits = module(x[batch].float())  # (B, classes)
                loss = F.cross_entropy(logits, y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_loss.add_(loss.detach())

        def state() -> dict[str, Any]:
            cuda = {"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}
            return {"epochs": epoch + 1, "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                    "batches": generator.get_state(), "rng": torch.get_rng_state(), **cuda,
                    "seconds": before + time.perf_counter() - start}

        epoch, before = 0, 0.0  # before: the seconds of the epochs resumed after
        if resume is not None:
            try:
                before = float(resume.get("seconds", 0.0))
                module.load_state_dict(resume["module"])
                optimizer.load_state_dict(resume["optimizer"])
                generator.set_state(resume["batches"])
                torch.set_rng_state(resume["rng"])
                if "cuda_rng" in resume and device.type == "cuda":
                    torch.cuda.set_rng_state(resume["cuda_rng"], device)
            except (KeyError, RuntimeError, TypeError, ValueError) as err:  # another module's, or damaged
                why = (str(err).strip().splitlines() or [""])[0]
                raise ResumeMismatch(f"its state does not fit this module: {type(err).__name__}: {why}") from None
        steps = StepGraphs(step, device, enabled=graphed, capture=capture)
        n = len(y)
        for epoch in range(resume["epochs"] if resume is not None else 0, epochs):
            order = torch.randperm(n, generator=generator).to(device)
            epoch_loss.zero_()
            for begin in range(0, n, config.batch_size):
                steps(order[begin:begin + config.batch_size])
                _check_deadline(deadline)
            if not torch.isfinite(epoch_loss):  # one sync per epoch
                raise ChildDiverged(f"training loss became {epoch_loss.item()} in epoch {epoch + 1}")
            if on_epoch is not None:
                on_epoch(Epoch(epoch + 1, epoch_loss.item() / max(1, -(-n // config.batch_size)), state))
                module.train()  # on_epoch may have evaluated it
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the clock should see the work, not just its launch
        return Fitted(before + time.perf_counter() - start, steps.execution)


def evaluate(module: nn.Module, data: Split, config: TrainConfig, device: torch.device,
             deadline: float | None = None, capture: Capture | None = None) -> tuple[float, float, str]:
    """(accuracy, mean cross-entropy, execution) of `module` on `data`; ChildDiverged if the loss is not
    finite. On CUDA (config.cuda_graphs) the passes after the first of each size replay a CUDA graph."""
    with cuda_flags(config, device):
        images, labels, _ = _prepare(module, data, config, device)
        module.eval()
        bf16 = use_bf16(module, config, device)
        graphed = graphs_wanted(config.cuda_graphs, device, capture)
        correct = torch.zeros((), device=device)
        total_loss = torch.zeros((), device=device)

        def evaluate_pass(x: torch.Tensor, y: torch.Tensor) -> None:
            logits = module(x.float()).float()  # (B, classes)
            total_loss.add_(F.cross_entropy(logits, y, reduction="sum"))
            correct.add_((logits.argmax(dim=1) == y).sum())

        passes = StepGraphs(evaluate_pass, device, enabled=graphed, warmup=1, capture=capture)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16,
                                                     cache_enabled=not graphed):
            step = images_per_pass(module, images, config, device)
            for begin in range(0, len(data), step):
                passes(images[begin:begin + step], labels[begin:begin + step])
                _check_deadline(deadline)
        n = max(len(data), 1)
        loss = (total_loss / n).item()
        if not math.isfinite(loss):
            raise ChildDiverged(f"evaluation loss is {loss}")
        return (correct / n).item(), loss, passes.execution


def images_per_pass(module: nn.Module, images: torch.Tensor, config: TrainConfig, device: torch.device) -> int:
    """How many images evaluate() puts through `module` at once: config.eval_batch_size, and on a CPU
    no more than keep the largest layer output under config.eval_pass_bytes, measured by passing one
    image (call it as evaluate runs: module in eval mode, without gradients, under its autocast)."""
    if device.type != "cpu" or config.eval_pass_bytes == 0 or len(images) == 0:
        return config.eval_batch_size
    hold_heap()  # else blocks under the bound can be fresh mappings too
    largest = 1  # values in the largest output of one layer, for one image

    def measure(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal largest
        for tensor in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(tensor, torch.Tensor):
                largest = max(largest, tensor.numel())

    hooks = [m.register_forward_hook(measure) for m in module.modules() if not list(m.children())]
    try:
        module(images[:1].float())
    finally:
        for hook in hooks:
            hook.remove()
    return max(1, min(config.eval_batch_size, config.eval_pass_bytes // (4 * largest)))


# glibc's malloc settings (mallopt) for passes of bounded size: blocks up to 32 MiB (its ceiling) from
# the heap, and up to 256 MiB freed at the heap's top kept for the next pass, not given back: more
# than a pass frees at once (a few blocks of at most eval_pass_bytes per layer). At 64 MiB, passes
# of a two-layer child still had half their pages zero-filled afresh.
HEAP_MMAP_THRESHOLD = 32 * 2**20
HEAP_TRIM_THRESHOLD = 256 * 2**20
_MALLOPT = {"trim_threshold": -1, "mmap_threshold": -3}  # glibc's M_TRIM_THRESHOLD, M_MMAP_THRESHOLD


@functools.cache
def hold_heap() -> bool:
    """Set glibc's malloc to serve blocks of up to 32 MiB from its heap and to keep 256 MiB of freed
    memory there, once per process; whether it took them. By default glibc moves its mapping
    threshold with the blocks a process happens to have freed, and gives memory back once twice
    that lies free at the heap's top: after a child had trained, evaluating a wide one in passes of
    16 MiB still had every page of every pass zero-filled afresh (2.4 million page faults on
    10,000 images, as many as in passes of 1,000 images, and no faster; with these settings none,
    and 1.6x faster; 2-core Intel Xeon). Left as they are where $MALLOC_MMAP_THRESHOLD_,
    $MALLOC_TRIM_THRESHOLD_ or $GLIBC_TUNABLES set them, and where the C library is not glibc."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(f"MALLOC_{name.upper()}_" in os.environ or f"malloc.{name}" in tunables for name in _MALLOPT):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library to open this way, or it is not glibc
        return False
    return bool(mallopt(_MALLOPT["mmap_threshold"], HEAP_MMAP_THRESHOLD)) and bool(
        mallopt(_MALLOPT["trim_threshold"], HEAP_TRIM_THRESHOLD))


def use_bf16(module: nn.Module, config: TrainConfig, device: torch.device) -> bool:
    """Whether `module` trains under bf16 autocast, following config.precision."""
    if config.precision != "auto":
        return config.precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_precision(child_kind(module)) == "bf16"


def child_kind(module: nn.Module) -> str:
    """"conv", "recurrent" or "other": what decides whether bf16 pays on a CPU."""
    if any(isinstance(m, nn.Conv2d) for m in module.modules()):
        return "conv"
    if any(isinstance(m, nn.RNNBase) for m in module.modules()):
        return "recurrent"
    return "other"


def on_device(data: Split, device: torch.device, channels_last: bool = False) -> Split:
    """`data` on `device` (and channels-last if asked); a no-op when it is there already, so the
    controller does the work once per split. On a GPU the images are stored as float16: half the
    memory, and still finer than the step between two normalised 8-bit pixel values."""
    x = data.x
    if x.device != device:
        x = x.to(device, torch.float16 if device.type == "cuda" else torch.float32, non_blocking=True)
    if x.dim() == 4:
        x = laid_out(x, torch.channels_last if channels_last else torch.contiguous_format)
    if x is data.x and data.y.device == device:
        return data
    return Split(x, data.y.to(device, non_blocking=True), data.name)


def laid_out(x: torch.Tensor, layout: torch.memory_format) -> torch.Tensor:
    """`x` with exactly the strides of `layout` (itself when it has them). contiguous() is not enough:
    images of one channel are contiguous in both layouts whatever their channel stride, so it keeps
    the stride they came with (loading gives one, a pickle to a worker process another). A
    convolution picks its output's layout by that stride, and dropout's masks follow the layout, so
    the same child trained differently in a worker process and in the controller's."""
    if x.stride() == torch.empty(x.shape, device="meta", memory_format=layout).stride():
        return x
    return torch.empty_like(x, memory_format=layout).copy_(x)


@contextlib.contextmanager
def cuda_flags(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """torch's global CUDA flags as a child trains and evaluates, and back as they were afterwards,
    so that a user's own code in the same process is not changed behind its back. Nothing on a CPU."""
    if device.type != "cuda":
        yield
        return
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled())
    # No autotuning: every child of a search has new shapes, and cuDNN's benchmark mode spent more
    # on trying kernels than it saved (a new child's first epoch 0.8-2.1 s with it, 0.4-0.5 s
    # without, on an H100; issue 17).
    torch.backends.cudnn.benchmark = False
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's deterministic mode
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[0], saved[1]
        torch.use_deterministic_algorithms(saved[2])


def _prepare(module: nn.Module, data: Split, config: TrainConfig, device: torch.device) -> Split:
    """Move the module (and the data, if it is not there yet) to the device, in the layout chosen."""
    module.to(device)
    if config.channels_last:
        module.to(memory_format=torch.channels_last)
    return on_device(data, device, config.channels_last)


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ChildTimeout("ran past its time limit (--child-timeout)")

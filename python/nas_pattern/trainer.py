"""The child trainer: trains and evaluates one `nn.Module` on tensors already in memory.

Shared by every PyTorch child (CNN, RNN). Batches are sliced from one tensor per split with a
fresh permutation per epoch; the loss is summed on the device and checked once per epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nas_pattern.data import Split


class ChildDiverged(RuntimeError):
    """The child's loss became NaN or infinite."""


class ChildTimeout(RuntimeError):
    """The child ran past its deadline (--child-timeout)."""


@dataclass(frozen=True)
class TrainConfig:
    """How each child is trained (the same for every child of a search)."""

    batch_size: int = 32  # images per step
    learning_rate: float = 2e-3  # AdamW step size; 4e-3 learns faster but kills some wide unpooled CNNs
    weight_decay: float = 0.0  # L2 penalty (AdamW-style, decoupled)
    eval_batch_size: int = 1000  # images per forward pass when evaluating; no gradients kept


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


def fit(module: nn.Module, data: Split, epochs: int, config: TrainConfig, device: torch.device,
        generator: torch.Generator, deadline: float | None = None) -> float:
    """Train `module` in place for `epochs` passes over `data`; return the seconds spent.

    Raises ChildDiverged if an epoch's loss is not finite, ChildTimeout once time.monotonic()
    passes `deadline` (checked between steps).
    """
    start = time.perf_counter()
    module.to(device)
    module.train()
    optimizer = torch.optim.AdamW(module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    x = data.x.to(device)  # (N, C, H, W)
    y = data.y.to(device)  # (N,)
    n = len(y)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator).to(device)
        epoch_loss = torch.zeros((), device=device)
        for begin in range(0, n, config.batch_size):
            batch = order[begin:begin + config.batch_size]
            logits = module(x[batch])  # (B, classes)
            loss = F.cross_entropy(logits, y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.detach()  # stays on the device: no sync per step
            _check_deadline(deadline)
        if not torch.isfinite(epoch_loss):  # one sync per epoch
            raise ChildDiverged(f"training loss became {epoch_loss.item()} in epoch {epoch + 1}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # the clock should see the work, not just its launch
    return time.perf_counter() - start


def evaluate(module: nn.Module, data: Split, config: TrainConfig, device: torch.device,
             deadline: float | None = None) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of `module` on `data`; ChildDiverged if the loss is not finite."""
    module.to(device)
    module.eval()
    correct = torch.zeros((), device=device)
    total_loss = torch.zeros((), device=device)
    with torch.inference_mode():
        for begin in range(0, len(data), config.eval_batch_size):
            x = data.x[begin:begin + config.eval_batch_size].to(device)
            y = data.y[begin:begin + config.eval_batch_size].to(device)
            logits = module(x)  # (B, classes)
            total_loss += F.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(dim=1) == y).sum()
            _check_deadline(deadline)
    n = max(len(data), 1)
    loss = (total_loss / n).item()
    if not math.isfinite(loss):
        raise ChildDiverged(f"evaluation loss is {loss}")
    return (correct / n).item(), loss


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise ChildTimeout("ran past its time limit (--child-timeout)")

"""The memory a child may take on a CPU: the process's data segment bounded while it trains.

Past the machine's memory the kernel's OOM killer ends the process with SIGKILL: the whole search,
and its resume again at the same child, which the resume samples again. Bounded (RLIMIT_DATA), the
child's allocation fails instead, and the worker records it as `oom` while the search goes on.
"""

from __future__ import annotations

import contextlib
import resource
import threading
from collections.abc import Iterator
from typing import Any

import torch

# While a child trains on a CPU, the process's data segment may grow to this share of the memory it
# may use at most (the machine's, or its control group's limit): the rest is the system's and the
# other processes'.
MEMORY_SHARE = 0.9
_BOUND_LOCK = threading.Lock()
# While children train under memory_bound() in this process: how many, the soft limit it replaced
# (None: it set none), and the bound in force.
_BOUND: dict[str, Any] = {"depth": 0, "saved": None, "bound": None}


def memory_limit() -> int | None:
    """The memory this process may use at most, in bytes: the machine's (MemTotal), or its control
    group's limit when lower (cgroup v2 or v1); None where neither can be read (not Linux)."""
    limits = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as file:
                limits.append(int(file.read().strip()))  # "max" (none) is not a number
        except (OSError, ValueError):
            pass
    return min(limits) if limits else None


@contextlib.contextmanager
def memory_bound(device: torch.device, share: float = MEMORY_SHARE) -> Iterator[int | None]:
    """On a CPU, bound this process's data segment (RLIMIT_DATA) to `share` of memory_limit() inside
    the block (worker processes training children side by side each take their part of it), and
    yield the bound (None where there is none: a GPU, no limit to read, a tighter one set already).
    Past it an allocation fails, and the child is recorded as `oom`; without it the kernel's OOM
    killer ended the whole search with SIGKILL, and its resume again at the same child. As before
    outside the block; children training at once in one process (two controllers on one engine)
    share one bound, lifted when the last ends."""
    limit = memory_limit()
    if device.type != "cpu" or limit is None or torch.cuda.is_initialized():
        yield None
        return
    with _BOUND_LOCK:
        if _BOUND["depth"] == 0:
            soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
            bound = int(share * limit)
            if hard != resource.RLIM_INFINITY:
                bound = min(bound, hard)
            if soft == resource.RLIM_INFINITY or soft > bound:
                resource.setrlimit(resource.RLIMIT_DATA, (bound, hard))
                _BOUND.update(saved=soft, bound=bound)
            else:  # a tighter bound is set already: it stays, and is not ours to name
                _BOUND.update(saved=None, bound=None)
        _BOUND["depth"] += 1
        bound_now = _BOUND["bound"]
    try:
        yield bound_now
    finally:
        with _BOUND_LOCK:
            _BOUND["depth"] -= 1
            if _BOUND["depth"] == 0 and _BOUND["saved"] is not None:
                resource.setrlimit(resource.RLIMIT_DATA, (_BOUND["saved"], resource.getrlimit(resource.RLIMIT_DATA)[1]))


def bound_note(bound: int | None) -> str:
    """What an out-of-memory failure under memory_bound()'s `bound` adds to its reason ("" for none)."""
    limit = memory_limit()
    if bound is None or not limit:
        return ""
    return f" (this process may take at most {bound / 2**30:.1f} GiB, {bound / limit:.0%} of this machine's memory)"

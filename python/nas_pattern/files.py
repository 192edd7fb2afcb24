"""Writing files so that a crash never leaves half of one, making folders that are ours alone (and
holding them while we write), and stopping a command cleanly (SIGTERM, a closed output, a terminal's
Ctrl-C kept from worker processes): the run directory, the tables, the commands and the executor
use it."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from pathlib import Path
from typing import IO, Any

import torch


def input_error(err: BaseException) -> str:
    """The line that says what is wrong with the input: the error's own message, or, where the system
    raised it about a file, the file and why ("/data/x: Permission denied", not "[Errno 13] ...")."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:  # str(): "[Errno 13] ...: 'x'"
        return f"{err.filename}: {err.strerror}"
    return str(err)


# OSError.errno of a write that the file system refuses (full, over quota, read-only, failing, or
# taken away): the run directory cannot be written, and what is written stays whole. Other OSErrors
# (a lost connection is one) are not about the files.
UNWRITABLE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM})


def write_atomically(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write to path.tmp, fsync, rename over path: readers see the old file or the new one, never
    half of either. The rename itself is made durable by syncing the directory. A write that fails
    (a full disk) removes path.tmp and raises: path is still the old file."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:  # a full disk, say: the half-written copy goes, and so does the space it took
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextlib.contextmanager
def text_written(path: Path) -> Iterator[io.StringIO]:
    """A text stream whose contents replace `path` through write_atomically once the block ends
    without an error (its folder made if need be): a CSV or a table written whole or not at all."""
    stream = io.StringIO(newline="")
    yield stream
    path.parent.mkdir(parents=True, exist_ok=True)
    text = stream.getvalue().encode()
    write_atomically(path, lambda f: f.write(text))


def save_atomically(path: Path, obj: Any) -> None:
    """torch.save(obj) to `path` through write_atomically, serialised in memory first: into a full
    disk, torch's zip writer raises a RuntimeError of its own ("unexpected pos"), a plain write OSError."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomically(path, lambda f: f.write(buffer.getbuffer()))


def fresh_directory(base: Path) -> Path:
    """`base`, or the first of base-2, base-3, ... that does not exist yet, made here: mkdir is
    atomic, so processes started together (a loop over seeds) each get their own. OSError if the
    file system refuses."""
    for path in itertools.chain([base], (base.with_name(f"{base.name}-{n}") for n in itertools.count(2))):
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable: the names never run out")


def outermost_missing(path: Path) -> Path | None:
    """The outermost of `path` and its parents that does not exist yet (None: `path` exists): what
    making `path` with its parents makes, for remove_made() to take back."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def remove_made(path: Path, made: Path | None) -> None:
    """Remove the folder `path`, made by fresh_directory(), and then those of its parents that are
    `made` or inside it (outermost_missing() of its base before: None, none of them), each only while
    it is empty: what a run refused or interrupted made and left empty."""
    for folder in (path, *path.parents):
        if folder != path and (made is None or (folder != made and made not in folder.parents)):
            return
        try:
            folder.rmdir()
        except OSError:  # not empty (another run's, or something was written), or gone
            return


def hold_directory(path: Path) -> int | None:
    """An advisory lock on the folder `path` itself, held until the descriptor returned is closed:
    nothing is written for it, and the system drops it when the process ends, kill -9 included.
    BlockingIOError while another process holds it; None on a file system without locks."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise
    except OSError:  # a file system without locks: unguarded, as before
        os.close(descriptor)
        return None
    return descriptor


def drop_output() -> None:
    """Send what is still printed nowhere: the reader of stdout is gone (a pipe to `head` that has
    its lines), and each later print, and the flush at exit, would fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within it, SIGTERM (`kill`, `timeout`, a batch system's or `docker stop`'s stop) raises
    KeyboardInterrupt, so a command stops the way Ctrl-C stops it: what is recorded is kept."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread meanwhile, and so in the worker processes started meanwhile (a
    process is born with its parent's signal mask, and keeps it, through exec too). A terminal's
    Ctrl-C reaches every process of its group: it stops the command in this process, which stops
    its workers (LocalExecutor's close(), the bench study's pool); it raised KeyboardInterrupt in
    each worker too, a traceback each. A SIGINT that comes meanwhile is taken when this returns,
    not lost. Python's resource tracker, a process of its own, is started first: its start unblocks
    SIGINT in the thread that starts it, which is the first worker process's start otherwise, and
    then none was born with it blocked (the bench study's pool was not)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def stops_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back meanwhile and taken when the block ends (as KeyboardInterrupt):
    for writes that belong together (a study's record, file by file), so that a stop comes before
    them or after them, never between. Python handles signals in the main thread; elsewhere this
    holds nothing back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: held.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            raise KeyboardInterrupt

"""What tests share besides fixtures: a blank dataset and a synthetic Network for fast searches,
a space of small CNNs, the command line in-process, a full disk, a SIGTERM at a chosen point,
the processes a command left running, headless Chromium, a live TensorBoard server."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from nas_pattern import Architecture, Dataset, Metrics, Network, SearchSpace, Split

# A CNN space of small children (8 or 16 filters, every layer pooled): for the tests of a search's
# machinery (resume, Ray, weight sharing) where the space is incidental, its children train and
# evaluate in a fraction of the default space's time.
SMALL_CNN = str(Path(__file__).with_name("small-cnn.json"))


def architecture_file(path: Path, encoding: str = "utf-8") -> Path:
    """`path` written as an architecture file, python -m nas_pattern.train's SOURCE: two layers of
    the CNN space, conv 3x8 pool2 drop0.0 each (the folders above it must exist)."""
    layer = {"filters": 8, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.0}
    path.write_text(json.dumps({"layers": [layer, layer]}), encoding=encoding)
    return path


def full_disk(descriptor: int) -> None:
    """os.fsync on a disk that is full (monkeypatch it in): each write is refused there, as ENOSPC."""
    raise OSError(errno.ENOSPC, "No space left on device")


@contextlib.contextmanager
def sigterm_in(target: object, name: str) -> Iterator[None]:
    """Within it, `target.name` (session.load_dataset, say) first sends this process SIGTERM, as
    kill, timeout or a batch system would, and waits for a handler to stop it; a SIGTERM that the
    command under test does not take fails the test rather than ending the test process."""
    function = getattr(target, name)

    def stopped(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # the handler runs in here
        return function(*args, **kwargs)

    def not_taken(signum: int, frame: object) -> None:
        raise AssertionError("SIGTERM reached the test's own handler: the command did not take it")

    previous = signal.signal(signal.SIGTERM, not_taken)
    setattr(target, name, stopped)
    try:
        yield
    finally:
        setattr(target, name, function)
        signal.signal(signal.SIGTERM, previous)


def _processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command's name) of every process still there."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile


def in_group(group: int) -> list[int]:
    """The processes of process group `group` still running (the search's worker processes are in
    its group, as a terminal puts them)."""
    return [pid for pid, fields in _processes() if int(fields[2]) == group and fields[0] != "Z"]  # not a zombie


def children_of(parent: int, command: str = "") -> list[int]:
    """The processes that `parent` started and that still run (not zombies), those whose command line
    holds `command` if one is given."""
    return [pid for pid, fields in _processes() if int(fields[1]) == parent and fields[0] != "Z"
            and command in _command_line(pid)]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""  # gone meanwhile


def running(pid: int) -> bool:
    """Whether process `pid` is there and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def gone(group: int, within: float = 60.0) -> bool:
    deadline = time.monotonic() + within
    while in_group(group) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not in_group(group)


def blank_dataset() -> Dataset:
    """A dataset of zeros, for children that never look at their data."""
    split = Split(torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    return Dataset("blank", split, split, split, num_classes=10)


class MatchTarget(Network):
    """A synthetic child: its accuracy is the fraction of decisions that match a target architecture.

    Trains instantly, so an agent can be run for thousands of children in seconds.
    """

    target: Architecture  # set by make_match_target
    space: SearchSpace
    builds = 0  # how many children were built (to check the cache)

    def build(self) -> None:
        type(self).builds += 1

    def train(self, data: Split, epochs: int) -> None:
        pass

    def evaluate(self, data: Split) -> Metrics:
        mine, target = self.space.encode(self.architecture), self.space.encode(self.target)
        accuracy = sum(a == b for a, b in zip(mine, target, strict=True)) / len(target)
        return Metrics(accuracy=accuracy, loss=1 - accuracy, params=0, train_seconds=0.0)

    @property
    def layers(self) -> list[str]:
        return [str(layer) for layer in self.architecture.layers]


def make_match_target(space: SearchSpace, target: Architecture) -> type[MatchTarget]:
    """A fresh MatchTarget class aimed at `target` (a class, so the controller can build it)."""
    return type("MatchTarget", (MatchTarget,), {"target": target, "space": space, "builds": 0})


def cli(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    """Run `python -m nas_pattern.run argv` in-process (no second torch import: a refusal takes
    milliseconds); argparse's own exits count as return codes. Its (status, stdout, stderr)."""
    from nas_pattern.run import main

    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


class WouldRunCode:
    """Pickled, a file from elsewhere that runs code when unpickled: it makes `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


def plain_values(value: Any) -> bool:
    """Whether `value` is tensors, numbers, strings and None in dicts, lists and tuples: what a
    weights-only torch.load reads without any allowance (no array, no object, no pickle in bytes)."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and plain_values(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain_values(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, torch.Tensor))


def files(run_dir: Path) -> dict[str, bytes]:
    """Every file under a run directory (its event files' folders included), by relative path:
    what "nothing was changed" compares."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def chromium(window: str = "1280,2400") -> Iterator[Any]:
    """Headless Chromium (Debian's, driven by selenium), quit at the end even when the test fails."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        assert Path(tool).is_file(), f"{tool} is missing: `make docs-tools` installs Debian's chromium and driver"
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={window}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Chromium's profile and the folder of its singleton socket, which it leaves behind, in one of ours
    with tempfile.TemporaryDirectory(prefix="nas-chromium-") as scratch:
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver", env={**os.environ, "TMPDIR": scratch}),
                                   options=options)
        try:
            yield browser
        finally:
            browser.quit()


# The text a page shows, shadow roots included (TensorBoard's dashboards are Polymer elements).
PAGE_TEXT = """
function text(node) {
  let s = node.shadowRoot ? text(node.shadowRoot) : "";
  for (const child of node.childNodes) {
    if (child.nodeType === 3) s += child.textContent + " ";
    else if (child.nodeType === 11 || (child.nodeType === 1 && !["STYLE", "SCRIPT"].includes(child.tagName)))
      s += text(child);
  }
  return s;
}
return text(document.body);"""


def page_text(browser: Any) -> str:
    return " ".join(browser.execute_script(PAGE_TEXT).split())


@contextlib.contextmanager
def tensorboard(logdir: Path, timeout: float = 120.0) -> Iterator[str]:
    """`tensorboard --logdir logdir` on a free port of 127.0.0.1, once it answers; its URL. The
    server is stopped at the end, even when the test fails."""
    with socket.socket() as probe:  # a port free now (TensorBoard has no "any free port" option)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
               "--port", str(port), "--reload_interval", "1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, f"tensorboard exited: {server.stderr.read() if server.stderr else ''}"
            try:
                urllib.request.urlopen(f"{url}/data/runs", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, f"tensorboard did not answer on {url} in {timeout:.0f} s"
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def memory_with_room(room: int) -> int:
    """A memory_limit() under which memory.memory_bound() lets this process grow by `room` bytes from
    its data segment now (VmData, what RLIMIT_DATA bounds). Memory its heap holds free is in VmData
    already and may be handed out again: a test's allocation that must fail should be larger than
    that can be (a gigabyte, say), whatever the tests before it in this process freed."""
    from nas_pattern import memory

    with open("/proc/self/status") as status:
        data = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
    return int((data + room) / memory.MEMORY_SHARE)


def worker_memory_share() -> float:
    """In a worker process of LocalExecutor: the share of the machine's memory its children may take."""
    from nas_pattern import executor

    assert executor._WORKER is not None
    return executor._WORKER.memory_share

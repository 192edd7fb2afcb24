"""TensorBoardLog: a search watched live, `tensorboard --logdir runs/` (and TrainingLog, a
retraining's learning curve).

It is a pair of the controller's callbacks, so every search that has a run directory writes its
event files there as it goes (the CLI, the JVM's, with any executor; from Python, attach one to
your own NASController). In `<run directory>/tensorboard/`:

- scalars per child, at step = its episode number: `child/accuracy` (validation; with weight
  sharing, the supernet's score), `child/reward`, `child/baseline` (the value function),
  `child/params`, `child/train_seconds`, `search/best_accuracy` (the best so far);
- per policy update, at the step of the child that ended it: `policy/loss`, `policy/entropy`,
  `policy/moved` (how far the policy moved: the KL divergence between successive policies'
  choice probabilities, summed over the decisions), and the policy itself as a picture,
  `policy/choices` (every choice's probability, one row per decision; see the pictures below);
- with weight sharing, `supernet/loss` after each phase of shared training;
- `best/architecture` (the graph best.png draws) and `best/summary` (text), when the best improves;
- one hparams session per child in `children/<episode>/`: its decisions as hyperparameters, its
  validation accuracy, parameters and reward as metrics (TensorBoard's HParams dashboard: the
  table, parallel coordinates, scatter plots);
- with --final-epochs, the final retraining's `train/loss` per epoch in `final-retraining/` (a
  TrainingLog, which Search.final_test() writes).

The two pictures (`policy/choices`, `best/architecture`) take 50 to 100 ms each to draw, against a
tenth of a second for a child scored with shared weights. So each is drawn at most once every
PICTURE_SECONDS, as often as TensorBoard looks for new data (it also keeps only 10 images a tag
by default): a picture that comes sooner waits, and the latest one waiting is drawn, at its own
step, once that time has passed or when the search ends. A search whose children take seconds
gets nearly every picture; the last policy and the last best are always there.

Writing never stops or fails a search: an error (a full disk, a directory that cannot be written)
is one warning line, and the search goes on without event files. A resumed search goes on
writing the same run: what was written for children that were not recorded is purged (TensorBoard
drops the events at and after the step a writer starts at), so no step appears twice.

One piece: the search's log and a retraining's share how an event file is opened (after the ones
already there), written and guarded, in the same run directory.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nas_pattern import plots
from nas_pattern.controller import NASController
from nas_pattern.records import Episode
from nas_pattern.search_space import Architecture, SearchSpace

EVENTS = "tensorboard"  # the event files' folder in a run directory
SESSIONS = "children"  # the hparams sessions' folder in it, one per child
FINAL = "final-retraining"  # the learning curve of the search's --final-epochs in it (a TrainingLog)
PICTURE_SECONDS = 5.0  # each picture tag is drawn at most this often: TensorBoard's reload interval


def every_picture() -> Callable[[], float]:
    """A clock on which PICTURE_SECONDS pass between any two readings: a TensorBoardLog that reads it
    draws every picture as it comes, as for children that take seconds (bench controller, tests)."""
    return itertools.count(step=PICTURE_SECONDS).__next__


def available() -> bool:
    """Whether the tensorboard package is installed (torch writes the event files through it)."""
    return importlib.util.find_spec("tensorboard") is not None


class EventLog:
    """Event files in `directory` that never stop or fail the work they watch (`what`: "search"):
    writing goes through _guard, which turns any error into one warning and writes nothing more."""

    what = "work"

    def __init__(self, directory: Path, warn: Callable[[str], None] | None = None):
        self.directory = Path(directory)
        self.warn = warn or (lambda message: print(message, file=sys.stderr))
        self.writer: Any = None  # a SummaryWriter; None once writing failed (or before it starts)

    def _guard(self, write: Callable[[], None], opening: bool = False) -> None:
        """Run `write` (while writing works: opening starts it); on any error, warn once and write
        nothing more (the work goes on)."""
        if self.writer is None and not opening:
            return
        try:
            write()
        except Exception as err:  # a full disk, an unwritable directory, a broken install: never the work's end
            self.warn(f"nas-pattern: warning: TensorBoard event files cannot be written in {self.directory} "
                      f"({type(err).__name__}: {err}); the {self.what} goes on without them")
            self.writer = None


def _writer(directory: Path, first_step: int) -> Any:
    """A SummaryWriter of a new event file in `directory`, its points from `first_step` on (those
    written before from there purged). TensorBoard reads a folder's event files in the order of
    their names, events.out.tfevents.<second>.<host>.<pid>.<n>: one made in the same second as the
    last may sort before it (its n 10 after 9, its pid 1000 after 999), and then its points, the
    purge among them, are read first (a resume in the same second gave the steps 2, 3, 1). So it
    is made in a later second than any there."""
    from torch.utils.tensorboard import SummaryWriter

    seconds = [int(second) for f in directory.glob("events.out.tfevents.*")
               if (second := f.name.split(".")[3]).isdigit()] if directory.is_dir() else []
    if seconds and (wait := max(seconds) + 1 - time.time()) > 0:
        time.sleep(wait)
    return SummaryWriter(str(directory), purge_step=first_step if first_step > 1 else None)


class TrainingLog(EventLog):
    """python -m nas_pattern.train's learning curve in `directory` (`<output folder>/tensorboard/`),
    a point per epoch: `train/loss`, and `validation/accuracy` where the validation images are not
    trained on. `tensorboard --logdir runs/` shows a retraining in a run directory beside its search.
    A resume (`first_epoch`: the first epoch not kept) purges what was written after the epochs kept."""

    what = "training"

    def __init__(self, directory: Path, first_epoch: int = 1, warn: Callable[[str], None] | None = None):
        super().__init__(directory, warn)

        def open_writer() -> None:
            _leave_writer_failures_to_guard()
            self.writer = _writer(self.directory, first_epoch)

        self._guard(open_writer, opening=True)

    def epoch(self, number: int, loss: float, accuracy: float | None) -> None:
        """Epoch `number`'s points, on disk at once (a training is watched live)."""
        def write() -> None:
            self.writer.add_scalar("train/loss", loss, number)
            if accuracy is not None:
                self.writer.add_scalar("validation/accuracy", accuracy, number)
            self.writer.flush()

        self._guard(write)

    def close(self) -> None:
        self._guard(lambda: self.writer.close())
        self.writer = None


class TensorBoardLog(EventLog):
    """Writes a search's event files in `directory` through the controller's callbacks. Attach it
    before the run directory's Recorder (as session.open_search does): a child's events are then
    on disk before its line in episodes.jsonl, and a resume (`first_episode` = the number of the
    first child not recorded) purges those of a child that never got its line."""

    what = "search"

    def __init__(self, directory: Path, controller: NASController, first_episode: int = 1,
                 warn: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(directory, warn)
        self.controller = controller
        self.space = controller.agent.space
        self.best = max((e.accuracy for e in controller.history if e.status == "ok"), default=-math.inf)
        self.step = first_episode - 1  # the last child written
        self.probabilities: list[list[float]] | None = None  # the policy at the last update, to compare with
        self.picture: plots.PolicyPicture | None = None  # drawn once, redrawn in place at each update
        self.clock = clock
        self.drawn: dict[str, float] = {}  # a picture tag: when its last picture was drawn
        self.waiting: dict[str, Callable[[], None]] = {}  # a picture tag: the drawing of its latest, not drawn yet
        self._guard(lambda: self._open(first_episode), opening=True)
        controller.add_callback(self.child)
        controller.add_shared_callback(self.shared)

    def _open(self, first_episode: int) -> None:
        _leave_writer_failures_to_guard()
        sessions = self.directory / SESSIONS
        if sessions.exists():  # the sessions of children that were not recorded: written again
            for session in sessions.iterdir():
                if session.name.isdigit() and int(session.name) >= first_episode:
                    shutil.rmtree(session)
        self.writer = _writer(self.directory, first_episode)
        if first_episode == 1:
            self._policy(0)  # the policy before any update (nothing for an agent without one)
            self._draw_waiting()
        else:  # resumed: the policy of the last update, restored, for the next update's policy/moved
            self.probabilities = self.controller.agent.choice_probabilities()

    # ---- the callbacks ----

    def child(self, episode: Episode) -> None:
        """One child's scalars, its hparams session, the update that followed it, a new best."""
        self.step = episode.episode
        self._guard(lambda: self._child(episode))

    def shared(self, steps: int, loss: float) -> None:
        """A phase of shared training ended, before the next child."""
        self._guard(lambda: self.writer.add_scalar("supernet/loss", loss, self.step + 1))

    def flush(self) -> None:
        """Draw the pictures waiting and write everything to disk, and go on writing: a search() that
        ended (the JVM's may be followed by another on the same controller)."""
        def draw_and_flush() -> None:
            self._draw_waiting(every=True)
            self.writer.flush()

        self._guard(draw_and_flush)

    def close(self) -> None:
        """Flush and close the event files (writing them again needs a new TensorBoardLog). The flush
        raises a write that failed in TensorBoard's thread since the last child: one warning."""
        self.flush()
        self._guard(lambda: self.writer.close())
        self.writer = None
        if self.picture is not None:
            self.picture.close()
            self.picture = None

    # ---- what is written ----

    def _child(self, episode: Episode) -> None:
        w, step = self.writer, episode.episode
        w.add_scalar("child/accuracy", episode.accuracy, step)
        w.add_scalar("child/reward", episode.reward, step)
        if episode.baseline is not None and math.isfinite(episode.baseline):
            w.add_scalar("child/baseline", episode.baseline, step)
        if episode.metrics is not None:
            w.add_scalar("child/params", episode.metrics.params, step)
            w.add_scalar("child/train_seconds", episode.metrics.train_seconds, step)
        improved = episode.status == "ok" and episode.accuracy > self.best
        self.best = max(self.best, episode.accuracy) if episode.status == "ok" else self.best
        if math.isfinite(self.best):
            w.add_scalar("search/best_accuracy", self.best, step)
        if episode.update:
            for name in ("loss", "entropy"):
                if name in episode.update:
                    w.add_scalar(f"policy/{name}", episode.update[name], step)
            self._policy(step)
        if improved:
            w.add_text("best/summary", _summary(episode), step)
            self.waiting["best/architecture"] = lambda: w.add_figure(  # replaces a best not drawn yet
                "best/architecture", plots.graph_figure(episode.architecture, f"best so far (episode {step})"), step)
        self._draw_waiting()
        if episode.metrics is not None:
            w.add_hparams(decisions(self.space, episode.architecture), {"hparams/accuracy": episode.accuracy,
                                                           "hparams/params": episode.metrics.params,
                                                           "hparams/reward": episode.reward},
                          run_name=f"{SESSIONS}/{step:05d}", global_step=step)
        w.flush()

    def _policy(self, step: int) -> None:
        probabilities = self.controller.agent.choice_probabilities()
        if probabilities is None:
            return
        if self.probabilities is not None and step > 0:
            self.writer.add_scalar("policy/moved", kl_divergence(self.probabilities, probabilities), step)
        self.probabilities = probabilities
        title = f"the policy after episode {step}" if step else "the policy at the start"

        def draw() -> None:
            if self.picture is None:
                self.picture = plots.PolicyPicture(self.space, probabilities)
            self.writer.add_image("policy/choices", self.picture.pixels(probabilities, title), step, dataformats="HWC")

        self.waiting["policy/choices"] = draw  # replaces a policy not drawn yet

    def _draw_waiting(self, every: bool = False) -> None:
        """Draw each waiting picture whose tag was last drawn PICTURE_SECONDS ago or more (`every`:
        all of them, as the search ends)."""
        for tag, draw in list(self.waiting.items()):
            if every or self.clock() - self.drawn.get(tag, -math.inf) >= PICTURE_SECONDS:
                del self.waiting[tag]
                draw()
                self.drawn[tag] = self.clock()


def _leave_writer_failures_to_guard() -> None:
    """TensorBoard writes the event files from a thread of its own. A write that fails there (a full
    disk) is kept for the search's next flush, which _guard turns into its one warning; Python would
    also print the thread's traceback among the search's lines. Other threads' errors print as before."""
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    previous = threading.excepthook
    if getattr(previous, "leaves_writer_failures", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.thread, _AsyncWriterThread):
            previous(args)

    hook.leaves_writer_failures = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def decisions(space: SearchSpace, architecture: Architecture) -> dict[str, Any]:
    """A child's decisions as TensorBoard hyperparameters: one per controller step, by its name
    (`l1_filters`), its value; the steps of layers a shallower child does not have are "none"."""
    values = space.step_values(architecture)
    return {name: "none" if value is None else (value if isinstance(value, (int, float, str)) else str(value))
            for name, value in zip(space.step_names, values, strict=True)}


def kl_divergence(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]]) -> float:
    """Sum over the decisions of KL(after || before) between their choice probabilities: 0 when the
    policy did not move."""
    total = 0.0
    for p_old, p_new in zip(before, after, strict=True):
        total += sum(q * math.log(q / max(p, 1e-12)) for p, q in zip(p_old, p_new, strict=True) if q > 0)
    return total


def _summary(episode: Episode) -> str:
    metrics = episode.metrics
    size = f", {metrics.params:,} parameters" if metrics is not None else ""
    return (f"**{episode.architecture.describe()}**  \nvalidation accuracy {episode.accuracy:.4f}{size}, "
            f"episode {episode.episode}")

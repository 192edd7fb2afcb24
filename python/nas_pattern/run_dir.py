"""RunDirectory: where a search leaves its record, written as it goes, and read back to resume.

config.json     the configuration and search space, written before the first child (a directory
                that holds only this may be taken by a new search: nothing was recorded)
episodes.jsonl  one JSON object per evaluated child, appended and fsynced as each finishes
checkpoint.pt   the agent and random generators after the latest policy update (atomic)
summary.json    best architecture, its validation and test accuracy, totals, the config used
best.pt         the best child's weights and how to rebuild them (nas_pattern.model), as it improves
derived.json    with --weight-sharing: the derivation's architectures trained from scratch so far
                (atomic; a resume takes them as they are; removed once summary.json is written)
final-training.pt  with --final-epochs: the final retraining's state after its latest epoch (atomic;
                a resume goes on from it; removed once summary.json is written)
best.onnx       the tested model as ONNX, at the end (when onnx and onnxruntime are installed)
search.png, pareto.png, best.png   the figures of the finished search (nas_pattern.plots)

One piece: the files above, the lock that keeps them to one search, the check that the directory
is still there, and the reading back of what they hold for a resume.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from nas_pattern.controller import NASController, model_card, trained_in_search
from nas_pattern.files import hold_directory, input_error, save_atomically, write_atomically
from nas_pattern.model import CHECKPOINT, MODEL, TRAINING, load_error, load_saved, save_model
from nas_pattern.records import Episode
from nas_pattern.search_space import SearchSpace

CONFIG = "config.json"
EPISODES = "episodes.jsonl"
SUMMARY = "summary.json"
FINAL_TRAINING = "final-training.pt"
DERIVED = "derived.json"
T = TypeVar("T")  # what a caller reads from summary.json


class RunDirectoryLost(FileNotFoundError):
    """The run directory was removed (and maybe made again) while its search held it."""


class RunDirectory:
    """A directory holding one search; it refuses to mix two searches in one place."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._held: int | None = None  # the descriptor whose lock holds the directory, while held

    # ---- one search at a time ----

    def hold(self) -> None:
        """Hold the directory for this search until release(): ValueError if another search holds
        it (two would append the same episode numbers, and a resume would repair the line the
        other is writing). An advisory lock on the directory itself, so nothing is written for
        it, and the system drops it when the process ends, kill -9 included."""
        if self._held is not None:
            return
        try:
            self._held = hold_directory(self.path)  # None: a file system without locks, unguarded as before
        except BlockingIOError:
            raise ValueError(f"run directory {self.path} is held by another search that is still open (a run "
                             "in progress, or a controller of a JVM engine); let it end, or stop it and resume "
                             "it") from None

    def check_in_place(self) -> None:
        """RunDirectoryLost if the directory held is no longer at its path: removed (`rm -rf runs/`
        beside a search), or removed and made again, as TensorBoard's writers make their folders.
        Else the search would stop with a traceback, or write on into a folder it cannot resume."""
        if self._held is None:  # not held (a file system without locks): nothing to compare with
            return
        held = os.fstat(self._held)
        try:
            here: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            here = None
        if here is None or (here.st_dev, here.st_ino) != (held.st_dev, held.st_ino):
            again = "" if here is None else " (a new folder of that name has been made since)"
            raise RunDirectoryLost(f"run directory {self.path} was removed while its search ran{again}; the "
                                   "search's record went with it, so the search stops here")

    def release(self) -> None:
        """Let another search have the directory (a resume, once this one has ended)."""
        if self._held is not None:
            os.close(self._held)  # closing the descriptor drops its lock
            self._held = None

    # ---- a new search ----

    def check(self) -> None:
        """Raise ValueError if a new search cannot be written here (before anything is created)."""
        try:
            self._check()
        except PermissionError as err:  # a folder of another user's, in it or above it
            raise ValueError(f"run directory {self.path} cannot be used: {input_error(err)}") from None

    def _check(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"run directory {self.path} is a file, not a directory")
        if self.started:
            name = CONFIG if (self.path / CONFIG).exists() else EPISODES
            raise ValueError(f"run directory {self.path} already holds a search ({name}); "
                             f"resume it with --resume {shlex.quote(str(self.path))} or choose another --run-dir")
        others = self._not_a_search()
        if others:
            raise ValueError(f"run directory {self.path} {others}; a search needs a folder of its own: choose "
                             "a new or empty --run-dir")
        existing = next((p for p in [self.path, *self.path.parents] if p.exists()), Path("."))
        if not existing.is_dir():
            raise ValueError(f"run directory {self.path} cannot be created: {existing} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"run directory {self.path} cannot be created: {existing} is not writable")

    @property
    def started(self) -> bool:
        """Whether a search has recorded anything here: a child or a checkpoint. A directory with
        only config.json (a search refused or killed before its first child) may be used again."""
        return any((self.path / name).is_file() and (self.path / name).stat().st_size > 0
                   for name in (EPISODES, CHECKPOINT))

    def _not_a_search(self) -> str | None:
        """Why an existing folder that holds no recorded child is not one a new search may take,
        or None: it would write its files among someone else's (`--run-dir .` in a project,
        replacing that project's config.json). It may take a folder that is empty (but for the
        config.json.tmp of a kill during the first write) or that holds a search's config.json."""
        if not self.path.is_dir():
            return None
        names = sorted(p.name for p in self.path.iterdir() if p.name != CONFIG + ".tmp")
        if not names:
            return None
        if CONFIG not in names:
            listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            return f"is not empty and holds no search ({listed})"
        if not self.configured:
            return f"holds a {CONFIG} that is not a search's (a new search would replace it)"
        return None

    @property
    def configured(self) -> bool:
        """Whether the folder holds a search's config.json (one that read_config() takes)."""
        try:
            self.read_config("read")
        except ValueError:
            return False
        return True

    def create(self, config: dict[str, Any]) -> None:
        """Make the directory, hold it, and write config.json, the first thing a resume reads
        (replacing the config.json of a search that recorded nothing)."""
        self.check()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # what check() cannot foresee: /proc, a full or read-only file system
            raise ValueError(f"run directory {self.path} cannot be created: {err.strerror or err}") from None
        self.hold()
        try:
            self.check()  # a search that held it first may have recorded a child meanwhile
            write_atomically(self.path / CONFIG, lambda f: _dump_json(config, f))
        except BaseException:
            self.release()
            raise

    def write_config(self, config: dict[str, Any]) -> None:
        """Replace config.json (atomically), when what the search was given changes: the JVM's
        search(n) sets the budget."""
        self.check_in_place()
        write_atomically(self.path / CONFIG, lambda f: _dump_json(config, f))

    # ---- while searching ----

    def record(self, episode: Episode) -> None:
        """Append one child's line and make sure it is on disk before the search moves on. A write
        that fails (a full disk) takes back what it wrote and raises: the record stays whole lines."""
        self.check_in_place()
        line = (json.dumps(episode.to_json()) + "\n").encode()
        with open(self.path / EPISODES, "ab", buffering=0) as f:  # unbuffered: nothing left to flush on close
            start = f.tell()
            try:
                while f.tell() < start + len(line):  # a full disk may take part of it, then raise
                    f.write(line[f.tell() - start:])
                os.fsync(f.fileno())
            except OSError:
                os.ftruncate(f.fileno(), start)
                raise

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write checkpoint.pt atomically: after a crash it holds the old state or the new, never half."""
        self.check_in_place()
        save_atomically(self.path / CHECKPOINT, state)

    def save_final_training(self, job: dict[str, Any], state: dict[str, Any]) -> None:
        """Write final-training.pt atomically: what the final retraining retrains (`job`) and its
        state after an epoch (trainer.Epoch.state())."""
        self.check_in_place()
        save_atomically(self.path / FINAL_TRAINING, {"job": job, "state": state})

    def save_derived(self, derived: Sequence[Episode]) -> None:
        """Write derived.json atomically: the derivation's architectures trained from scratch so far."""
        self.check_in_place()
        write_atomically(self.path / DERIVED, lambda f: _dump_json({"derived": [e.to_json() for e in derived]}, f))

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write summary.json: the search is finished, and what a resume of its end would take is spent
        (the derivation's children and the final retraining's state)."""
        self.check_in_place()
        write_atomically(self.path / SUMMARY, lambda f: _dump_json(summary, f))
        for spent in (DERIVED, FINAL_TRAINING):
            (self.path / spent).unlink(missing_ok=True)

    # ---- resuming ----

    def finished_budget(self) -> int | None:
        """The budget (--episodes) of the search summary.json describes, or None before any finished.
        The run is finished while config.json's budget is no larger: a resume with more episodes (or
        the JVM's next search(n)) raises it there first, and the search is unfinished again until
        its own summary replaces this one. A search that ended at its --time-limit finished with the
        children it recorded: a resume goes on to its budget."""
        return self._from_summary(lambda summary: int(summary["episodes"] if summary.get("stop_reason") == "time"
                                                      else summary["config"]["search"]["episodes"]))

    def read_config(self, use: str) -> dict[str, Any]:
        """config.json of an existing search; ValueError, "cannot {use} DIR: why", if this is not a
        run directory (`use`: what the caller reads it for, "resume" or "retrain from")."""
        if self.path.is_file():  # best.pt, config.json, ...: a file of the run directory, maybe
            inside = f" (its folder {self.path.parent} is one)" if (self.path.parent / CONFIG).is_file() else ""
            raise ValueError(f"cannot {use} {self.path}: it is a file; give a run directory{inside}")
        if not self.path.is_dir():
            raise ValueError(f"cannot {use} {self.path}: no such directory")
        try:
            data = json.loads((self.path / CONFIG).read_text())
        except FileNotFoundError:
            raise ValueError(f"cannot {use} {self.path}: it holds no {CONFIG}, so it is not a run directory "
                             f"{self._what_else(use)}") from None
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot {use} {self.path}: {CONFIG} is unreadable ({input_error(err)})") from None
        if not isinstance(data, dict) or not {"config", "space"} <= set(data):
            raise ValueError(f"cannot {use} {self.path}: {CONFIG} lacks 'config' or 'space'")
        return data

    def _what_else(self, use: str) -> str:
        """What a folder without config.json is instead, and the command for it: a training's
        (python -m nas_pattern.train writes best.pt and, while it trains, training.pt), or none."""
        if use == "resume" and (self.path / TRAINING).is_file():
            return (f"but a training's folder ({TRAINING}): go on with it with python -m nas_pattern.train --resume "
                    f"{shlex.quote(str(self.path))}")
        if (self.path / MODEL).is_file():
            return (f"but a trained model's folder ({MODEL}): python -m nas_pattern.predict "
                    f"{shlex.quote(str(self.path))} tests it, python -m nas_pattern.train "
                    f"{shlex.quote(str(self.path / MODEL))} trains it again")
        return "(or the search was killed before it started)"

    def peek_episodes(self, space: SearchSpace) -> list[Episode]:
        """The complete lines of episodes.jsonl, read only (a search may still be writing it:
        nas_pattern.train reads a live run); a torn last line is left out, not repaired."""
        path, episodes = self.path / EPISODES, []
        for line in (path.read_bytes() if path.exists() else b"").split(b"\n"):
            try:
                episodes.append(Episode.from_json(json.loads(line), space))
            except (ValueError, KeyError, TypeError):
                continue  # the torn tail of a line being written
        return episodes

    def product(self, space: SearchSpace) -> Episode | None:
        """The finished search's best as summary.json records it (with weight sharing, the derived
        one, trained from scratch); None before the search has finished."""
        return self._from_summary(lambda summary: Episode.from_json(summary["best"], space))

    def _from_summary(self, read: Callable[[dict[str, Any]], T]) -> T | None:
        """`read` of summary.json, or None before any search finished; ValueError if it is damaged."""
        try:
            return read(json.loads((self.path / SUMMARY).read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{self.path / SUMMARY} is unreadable ({err!r}); the run directory is damaged") from None

    def read_episodes(self, space: SearchSpace) -> tuple[list[Episode], str | None]:
        """The recorded children, and a warning if a half-written last line had to be dropped.

        The file is repaired in place (the torn tail cut off) so that new lines append cleanly.
        Any other damage is a ValueError naming the line.
        """
        path = self.path / EPISODES
        if not path.exists():
            return [], None
        raw = path.read_bytes()
        lines = raw.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        warning = None
        if tail:  # repair only the tail: the complete lines before it are never rewritten
            try:
                json.loads(tail)
                complete = True
            except ValueError:
                complete = False
            with open(path, "r+b") as f:
                if complete:  # only its newline was lost
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                    lines.append(tail)
                else:
                    f.truncate(len(raw) - len(tail))
                    warning = (f"dropped a half-written last line of {path} ({len(tail)} bytes): the child "
                               "it was recording will be trained again")
                f.flush()
                os.fsync(f.fileno())
        episodes = []
        for number, line in enumerate(lines, start=1):
            try:
                episode = Episode.from_json(json.loads(line), space)
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path} line {number} is not an episode record ({err!r}); "
                                 "the run directory is damaged") from None
            if episode.episode != number:
                raise ValueError(f"{path} line {number} records episode {episode.episode}; "
                                 "the run directory is damaged")
            episodes.append(episode)
        return episodes, warning

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint, or None before the first policy update. Leftovers of a write that
        was cut short (*.tmp) are removed: the checkpoint they would have replaced is still whole."""
        for leftover in self.path.glob("*.tmp"):
            leftover.unlink()
        path = self.path / CHECKPOINT
        if not path.exists():
            return None
        try:
            state: dict[str, Any] = load_saved(path)  # weights-only: a run directory from elsewhere runs no code
        except Exception as err:
            raise ValueError(f"{path} is unreadable ({load_error(err)}); the run directory is damaged") from None
        return state

    def read_derived(self, space: SearchSpace) -> list[Episode]:
        """The derivation's children that save_derived() wrote last, or [] if there are none;
        ValueError in one line if the file cannot be read."""
        path = self.path / DERIVED
        if not path.exists():
            return []
        try:
            return [Episode.from_json(e, space) for e in json.loads(path.read_text())["derived"]]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path} is unreadable ({err!r})") from None

    def read_final_training(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(job, state) that save_final_training() wrote last, or None if there is none; ValueError
        in one line if the file cannot be read (read_checkpoint() removed any half-written copy)."""
        path = self.path / FINAL_TRAINING
        if not path.exists():
            return None
        try:
            kept = load_saved(path)
            return dict(kept["job"]), dict(kept["state"])
        except Exception as err:
            raise ValueError(f"{path} is unreadable ({load_error(err)})") from None


class Recorder:
    """Keeps a run directory up to date as the controller searches: each child's line as it is
    evaluated, best.pt whenever the best improves (written first, so a line never names a best
    that best.pt lacks), a checkpoint after each policy update, and one more on interrupt()."""

    def __init__(self, run_dir: RunDirectory, controller: NASController):
        self.run_dir = run_dir
        self.controller = controller
        self.snapshot = controller.state_dict()  # the state after the last recorded child
        controller.add_callback(self.record)

    def record(self, episode: Episode) -> None:
        self.run_dir.check_in_place()  # before best.pt, which would otherwise fail first, or go astray
        best = self.controller.best_model
        if best is not None and best[0] is episode:
            card = model_card(self.controller, episode, trained_in_search(self.controller))
            if card is not None:
                save_model(self.run_dir.path / MODEL, card, best[1])
        self.run_dir.record(episode)
        self.snapshot = self.controller.state_dict()
        if episode.update is not None:
            self.run_dir.save_checkpoint(self.snapshot)

    def interrupted(self) -> None:
        """Checkpoint the state after the last recorded child (a resume starts from there)."""
        self.run_dir.save_checkpoint(self.snapshot)


def _dump_json(data: dict[str, Any], f: IO[bytes]) -> None:
    f.write((json.dumps(data, indent=2) + "\n").encode())

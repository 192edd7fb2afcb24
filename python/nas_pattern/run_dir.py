"""RunDirectory: where a search leaves its record, written as it goes, and read back to resume.

config.json     the configuration and search space, written before the first child
episodes.jsonl  one JSON object per evaluated child, appended and fsynced as each finishes
checkpoint.pt   the agent and random generators after the latest policy update (atomic)
summary.json    best architecture, its validation and test accuracy, totals, the config used
search.png      accuracy, baseline, best-so-far and reward over the episodes
pareto.png      accuracy against parameters of every trained child, with the Pareto front
best.png        the best architecture as a graph: its layers and what feeds each
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from nas_pattern.controller import Episode, NASController, SearchResult
from nas_pattern.search_space import Architecture, SearchSpace

CONFIG = "config.json"
EPISODES = "episodes.jsonl"
CHECKPOINT = "checkpoint.pt"
SUMMARY = "summary.json"
PLOT = "search.png"
PARETO_PLOT = "pareto.png"
GRAPH_PLOT = "best.png"


class RunDirectory:
    """A directory holding one search; it refuses to mix two searches in one place."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ---- a new search ----

    def check(self) -> None:
        """Raise ValueError if a new search cannot be written here (before anything is created)."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"run directory {self.path} is a file, not a directory")
        for name in (CONFIG, EPISODES):
            if (self.path / name).exists():
                raise ValueError(f"run directory {self.path} already holds a search ({name}); "
                                 f"resume it with --resume {self.path} or choose another --run-dir")
        existing = next((p for p in [self.path, *self.path.parents] if p.exists()), Path("."))
        if not existing.is_dir():
            raise ValueError(f"run directory {self.path} cannot be created: {existing} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"run directory {self.path} cannot be created: {existing} is not writable")

    def create(self, config: dict[str, Any]) -> None:
        """Make the directory and write config.json, the first thing a resume reads."""
        self.check()
        self.path.mkdir(parents=True, exist_ok=True)
        self._write_atomically(CONFIG, lambda f: _dump_json(config, f))

    # ---- while searching ----

    def record(self, episode: Episode) -> None:
        """Append one child's line and make sure it is on disk before the search moves on."""
        with open(self.path / EPISODES, "a", encoding="utf-8") as f:
            f.write(json.dumps(episode.to_json()) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write checkpoint.pt atomically: after a crash it holds the old state or the new, never half."""
        self._write_atomically(CHECKPOINT, lambda f: torch.save(state, f))

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write_atomically(SUMMARY, lambda f: _dump_json(summary, f))

    def plot(self, episodes: Sequence[Episode]) -> Path:
        """Draw search.png: how accuracy, baseline and reward moved over the search."""
        plt = _pyplot()

        x = [e.episode for e in episodes]
        accuracy = np.array([e.accuracy if e.status == "ok" else np.nan for e in episodes])
        best_so_far = np.fmax.accumulate(accuracy)  # running max that skips failed (NaN) children
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=[2, 1])
        top.scatter(x, accuracy, s=14, label="validation accuracy", color="tab:blue")
        top.step(x, best_so_far, where="post", label="best so far", color="tab:green")
        top.plot(x, [e.baseline for e in episodes], label="baseline (value function)", color="tab:orange")
        top.set_ylabel("accuracy")
        top.legend(loc="lower right")
        top.grid(alpha=0.3)
        bottom.bar(x, [e.reward for e in episodes], color="tab:purple", label="reward")
        bottom.axhline(0, color="black", linewidth=0.5)
        bottom.set_xlabel("episode (child evaluation)")
        bottom.set_ylabel("reward")
        bottom.grid(alpha=0.3)
        fig.suptitle(f"NAS search: {len(episodes)} children")
        return self._save(fig, PLOT)

    def plot_pareto(self, result: SearchResult, target_params: int | None = None) -> Path:
        """Draw pareto.png: validation accuracy against parameters of every trained child, the
        Pareto front joined by a line, the best marked, and the size target if there is one."""
        plt = _pyplot()
        trained = result.trained
        front = result.pareto_front
        fig, ax = plt.subplots(figsize=(8, 5))
        ax.scatter([e.metrics.params for e in trained if e.metrics], [e.accuracy for e in trained], s=14,
                   color="tab:blue", alpha=0.6, label="trained children")
        ax.step([e.metrics.params for e in front if e.metrics], [e.accuracy for e in front], where="post",
                color="tab:green", marker="o", label="Pareto front")
        if result.best.metrics:
            ax.scatter([result.best.metrics.params], [result.best.accuracy], s=120, facecolors="none",
                       edgecolors="tab:red", linewidths=2, label=f"best (episode {result.best.episode})")
        if target_params:
            ax.axvline(target_params, color="tab:orange", linestyle="--", label=f"target {target_params:,} params")
        ax.set_xscale("log")
        ax.set_xlabel("trainable parameters")
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right")
        ax.set_title(f"Accuracy against size: {len(trained)} trained children, {len(front)} on the front")
        return self._save(fig, PARETO_PLOT)

    def plot_graph(self, architecture: Architecture, title: str = "best architecture") -> Path:
        """Draw best.png: the image, each layer and the classifier top to bottom; an arrow for
        every connection (skip connections bend round the layers they jump)."""
        plt = _pyplot()
        names = ["image", *(f"L{i + 1}: {architecture.describe_layer(i)}" for i in range(len(architecture))),
                 "classifier"]
        edges = [(j, i + 1) for i in range(len(architecture)) for j in architecture.sources(i)]
        edges += [(j, len(architecture) + 1) for j in architecture.outputs]
        fig, ax = plt.subplots(figsize=(7, 1.1 * len(names) + 0.5))
        for y, name in enumerate(names):
            ax.text(0, -y, name, ha="center", va="center", fontsize=10,
                    bbox={"boxstyle": "round", "facecolor": "white" if 0 < y < len(names) - 1 else "lightgrey"})
        for source, target in edges:
            if target == source + 1:  # straight down to the next box
                ax.annotate("", xy=(0, -target + 0.25), xytext=(0, -source - 0.25),
                            arrowprops={"arrowstyle": "->", "color": "tab:blue"})
            else:  # round the right of the boxes it jumps, wider for longer jumps
                ax.annotate("", xy=(0.52, -target), xytext=(0.52, -source),
                            arrowprops={"arrowstyle": "->", "color": "tab:purple",
                                        "connectionstyle": f"arc3,rad={-0.25 - 0.1 * (target - source)}"})
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-len(names) + 0.5, 0.5)
        ax.axis("off")
        ax.set_title(title)
        return self._save(fig, GRAPH_PLOT)

    def _save(self, fig: Any, name: str) -> Path:
        import matplotlib.pyplot as plt

        fig.tight_layout()
        path = self.path / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    # ---- resuming ----

    @property
    def finished(self) -> bool:
        return (self.path / SUMMARY).exists()

    def read_config(self) -> dict[str, Any]:
        """config.json of an existing search; ValueError if this is not a run directory."""
        if not self.path.is_dir():
            raise ValueError(f"cannot resume {self.path}: no such directory")
        try:
            data = json.loads((self.path / CONFIG).read_text())
        except FileNotFoundError:
            raise ValueError(f"cannot resume {self.path}: it holds no {CONFIG}, so it is not a run directory "
                             "(or the search was killed before it started)") from None
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot resume {self.path}: {CONFIG} is unreadable ({err})") from None
        if not isinstance(data, dict) or not {"config", "space"} <= set(data):
            raise ValueError(f"cannot resume {self.path}: {CONFIG} lacks 'config' or 'space'")
        return data

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
            state: dict[str, Any] = torch.load(path, weights_only=False)  # our own file
        except Exception as err:
            raise ValueError(f"{path} is unreadable ({err}); the run directory is damaged") from None
        return state

    def _write_atomically(self, name: str, write: Callable[[IO[bytes]], None]) -> None:
        """Write to name.tmp, fsync, rename over name: readers see the old file or the new one."""
        temporary = self.path / (name + ".tmp")
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path / name)
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)


class Recorder:
    """Keeps a run directory up to date as the controller searches: each child's line as it is
    evaluated, a checkpoint after each policy update, and one more on interrupt()."""

    def __init__(self, run_dir: RunDirectory, controller: NASController):
        self.run_dir = run_dir
        self.controller = controller
        self.snapshot = controller.state_dict()  # the state after the last recorded child
        controller.add_callback(self.record)

    def record(self, episode: Episode) -> None:
        self.run_dir.record(episode)
        self.snapshot = self.controller.state_dict()
        if episode.update is not None:
            self.run_dir.save_checkpoint(self.snapshot)

    def interrupted(self) -> None:
        """Checkpoint the state after the last recorded child (a resume starts from there)."""
        self.run_dir.save_checkpoint(self.snapshot)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _dump_json(data: dict[str, Any], f: IO[bytes]) -> None:
    f.write((json.dumps(data, indent=2) + "\n").encode())

"""RunDirectory: where a search leaves its record, written as it goes.

episodes.jsonl  one JSON object per evaluated child, appended and fsynced as each finishes
summary.json    best architecture, its validation and test accuracy, totals, the config used
search.png      accuracy, baseline, best-so-far and reward over the episodes
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nas_pattern.controller import Episode

EPISODES = "episodes.jsonl"
SUMMARY = "summary.json"
PLOT = "search.png"


class RunDirectory:
    """A directory holding one search; it refuses to mix two searches in one place."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def check(self) -> None:
        """Raise ValueError if a new search cannot be written here (before anything is created)."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"run directory {self.path} is a file, not a directory")
        if (self.path / EPISODES).exists():
            raise ValueError(f"run directory {self.path} already holds a search ({EPISODES}); "
                             "choose another --run-dir")
        existing = next((p for p in [self.path, *self.path.parents] if p.exists()), Path("."))
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"run directory {self.path} cannot be created: {existing} is not writable")

    def create(self) -> None:
        self.check()
        self.path.mkdir(parents=True, exist_ok=True)

    def record(self, episode: Episode) -> None:
        """Append one child's line and make sure it is on disk before the search moves on."""
        with open(self.path / EPISODES, "a", encoding="utf-8") as f:
            f.write(json.dumps(episode.to_json()) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write summary.json atomically: a reader sees the old file or the new one, never half."""
        temporary = self.path / (SUMMARY + ".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path / SUMMARY)

    def plot(self, episodes: Sequence[Episode]) -> Path:
        """Draw search.png: how accuracy, baseline and reward moved over the search."""
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt

        x = [e.episode for e in episodes]
        accuracy = np.array([e.accuracy if e.status == "ok" else np.nan for e in episodes])
        best_so_far = np.fmax.accumulate(accuracy)  # running max that skips invalid (NaN) children
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
        fig.tight_layout()
        path = self.path / PLOT
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

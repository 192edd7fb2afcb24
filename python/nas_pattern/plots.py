"""Every figure the engine draws: a search's search.png, pareto.png and best.png, and the strategy
study's regret curves. matplotlib draws to files only (the Agg backend), never to a screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nas_pattern.files import write_atomically
from nas_pattern.records import Episode, SearchResult
from nas_pattern.search_space import Architecture, SearchSpace

SEARCH_PLOT = "search.png"  # accuracy, baseline, best-so-far and reward over the episodes
PARETO_PLOT = "pareto.png"  # accuracy against parameters of every trained child, with the Pareto front
GRAPH_PLOT = "best.png"  # the best architecture as a graph: its layers and what feeds each
POLICY_PLOT = "policy.png"  # the agent's policy at the end: every choice's probability, per decision

# A curve with its 95% band: (means, lows, highs), one value per x.
Band = tuple[Sequence[float], Sequence[float], Sequence[float]]


def plot_search(directory: Path, episodes: Sequence[Episode], derived: Sequence[Episode] = ()) -> Path:
    """Draw search.png in `directory`: how accuracy, baseline and reward moved over the search; with
    weight sharing, each child's shared-weight score and the derived ones' accuracy from scratch."""
    plt = _pyplot()

    x = [e.episode for e in episodes]
    accuracy = np.array([e.accuracy if e.status == "ok" else np.nan for e in episodes])
    best_so_far = np.fmax.accumulate(accuracy)  # running max that skips failed (NaN) children
    shared = any(e.evaluation == "shared" for e in episodes)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=[2, 1])
    top.scatter(x, accuracy, s=14 if len(x) < 200 else 4, color="tab:blue",
                label="validation accuracy" + (" with the shared weights" if shared else ""))
    top.step(x, best_so_far, where="post", label="best so far", color="tab:green")
    ok = [e for e in derived if e.status == "ok"]
    if ok:
        top.scatter([e.episode for e in ok], [e.accuracy for e in ok], s=60, marker="*", color="tab:red",
                    zorder=3, label="derived: trained from scratch")
    top.plot(x, [e.baseline for e in episodes], label="baseline (value function)", color="tab:orange")
    top.set_ylabel("accuracy")
    _legend_above(top)
    top.grid(alpha=0.3)
    bottom.bar(x, [e.reward for e in episodes], color="tab:purple", label="reward")
    bottom.axhline(0, color="black", linewidth=0.5)
    bottom.set_xlabel("episode (child evaluation)")
    bottom.set_ylabel("reward")
    bottom.grid(alpha=0.3)
    fig.suptitle(f"NAS search: {len(episodes):,} children")
    return _save(fig, directory / SEARCH_PLOT)


def plot_pareto(directory: Path, result: SearchResult, target_params: int | None = None) -> Path:
    """Draw pareto.png in `directory`: validation accuracy against parameters of every trained child, the
    Pareto front joined by a line, the best marked, and the size target if there is one. With weight
    sharing, the children's scores are their shared-weight scores, and the best is the product,
    trained from scratch (as search.png and the CLI's tables say)."""
    plt = _pyplot()
    trained = result.trained
    front = result.pareto_front
    shared = any(e.evaluation == "shared" for e in trained)
    children = "children scored with the shared weights" if shared else "trained children"
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.scatter([e.metrics.params for e in trained if e.metrics], [e.accuracy for e in trained], s=14,
               color="tab:blue", alpha=0.6, label=children)
    ax.step([e.metrics.params for e in front if e.metrics], [e.accuracy for e in front], where="post",
            color="tab:green", marker="o", label="Pareto front" + (" (by shared score)" if shared else ""))
    if result.best.metrics:
        best = f"episode {result.best.episode}" + (", trained from scratch" if shared else "")
        ax.scatter([result.best.metrics.params], [result.best.accuracy], s=120, facecolors="none",
                   edgecolors="tab:red", linewidths=2, label=f"best ({best})")
    if target_params:
        ax.axvline(target_params, color="tab:orange", linestyle="--", label=f"target {target_params:,} params")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3, which="both")
    _legend_above(ax)
    fig.suptitle(f"Accuracy against size: {len(trained):,} {children}, {len(front):,} on the front")
    return _save(fig, directory / PARETO_PLOT)


def plot_graph(directory: Path, architecture: Architecture, title: str = "best architecture") -> Path:
    """Draw best.png in `directory` (graph_figure)."""
    return _save(graph_figure(architecture, title), directory / GRAPH_PLOT)


def graph_figure(architecture: Architecture, title: str = "best architecture") -> Any:
    """The architecture as a figure: the image, each layer and the classifier top to bottom; an
    arrow for every connection (skip connections bend round the layers they jump)."""
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
    fig.tight_layout()
    return fig


def plot_policy(directory: Path, space: SearchSpace, probabilities: Sequence[Sequence[float]],
                title: str = "the policy") -> Path:
    """Draw policy.png in `directory` (policy_figure)."""
    return _save(policy_figure(space, probabilities, title), directory / POLICY_PLOT)


def policy_figure(space: SearchSpace, probabilities: Sequence[Sequence[float]], title: str = "the policy") -> Any:
    """A policy as a heat map: one row per decision (`space.step_names`), one cell per choice, its
    probability as the colour and, where there is room, as a number; blank where a decision has
    fewer choices than the widest."""
    plt = _pyplot()
    names = space.step_names
    labels = _choice_labels(space)
    width = max(len(p) for p in probabilities)
    grid = np.full((len(probabilities), width), np.nan)
    for row, p in enumerate(probabilities):
        grid[row, :len(p)] = p
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * width, 0.9 + 0.38 * len(names)))
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for row, p in enumerate(probabilities):
        for column, value in enumerate(p):
            ax.text(column, row, _cell(labels[row][column], value, len(names)), ha="center", va="center",
                    fontsize=6.5, color=_ink(value))
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xticks(range(width), [f"choice {c}" for c in range(width)], fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, label="probability")
    fig.tight_layout()
    return fig


def _cell(label: str, probability: float, decisions: int) -> str:
    return f"{label}\n{probability:.2f}" if decisions <= 24 else f"{probability:.1f}"


def _ink(probability: float) -> str:
    return "white" if probability < 0.6 else "black"


class PolicyPicture:
    """policy_figure as pixels, redrawn in place for each new policy, the way TensorBoard gets it at
    every update: the frame (axes, decision names, colour bar) is drawn once, and each picture
    draws only the cells, their numbers and the title over it (milliseconds, where drawing the
    whole figure anew takes about a hundred)."""

    def __init__(self, space: SearchSpace, probabilities: Sequence[Sequence[float]]):
        self.labels, self.decisions = _choice_labels(space), len(space.step_names)
        self.figure = policy_figure(space, probabilities, "the policy after episode 00000")  # room for a title
        self.axes = self.figure.axes[0]
        self.cells, self.numbers, self.title = self.axes.images[0], list(self.axes.texts), self.axes.title
        self.figure.canvas.draw()
        place = self.title.get_position()  # where the whole figure puts it (a hidden title is moved up)
        moving = [self.cells, *self.numbers, self.title]
        for artist in moving:
            artist.set_visible(False)
        self.figure.canvas.draw()
        self.frame = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        for artist in moving:
            artist.set_visible(True)
        self.title.set_position(place)

    def pixels(self, probabilities: Sequence[Sequence[float]], title: str) -> np.ndarray:
        """The picture of `probabilities`, (height, width, 3) RGB bytes."""
        canvas = self.figure.canvas
        canvas.restore_region(self.frame)
        grid = np.array(self.cells.get_array().filled(np.nan), dtype=float)
        for row, p in enumerate(probabilities):
            grid[row, :len(p)] = p
        self.cells.set_data(grid)
        self.axes.draw_artist(self.cells)
        cells = [(row, column, value) for row, p in enumerate(probabilities) for column, value in enumerate(p)]
        for text, (row, column, value) in zip(self.numbers, cells, strict=True):
            text.set_text(_cell(self.labels[row][column], value, self.decisions))
            text.set_color(_ink(value))
            self.axes.draw_artist(text)
        self.title.set_text(title)
        self.axes.draw_artist(self.title)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        _pyplot().close(self.figure)


def _choice_labels(space: SearchSpace) -> list[list[str]]:
    """What each choice of each controller step is: a decision's value, a depth, yes/no for a skip."""
    values = {d.name: d.choices for d in space.decisions}
    labels = []
    for name, n in zip(space.step_names, space.num_choices, strict=True):
        if name == "depth":
            labels.append([str(space.min_layers + c) for c in range(n)])  # type: ignore[operator]
        elif "_from_l" in name:
            labels.append(["no", "yes"])
        else:
            labels.append([str(v) for v in values[name.split("_", 1)[1]]])
    return labels


def plot_pairs(path: Path, standalone: Sequence[float], shared: Sequence[float], title: str) -> Path:
    """Draw `path`: each architecture's shared-weight accuracy against its stand-alone accuracy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(standalone, shared, s=10, alpha=0.6, color="tab:blue")
    ax.set_xlabel("validation accuracy, trained stand-alone (the table)")
    ax.set_ylabel("validation accuracy with the shared weights")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)


def plot_regret_panels(path: Path, panels: Mapping[str, Mapping[str, Band]], title: str) -> Path:
    """The study's figure: one panel per landscape (titled by its key), the best-so-far regret (points)
    against architectures trained, a mean and its 95% band per strategy."""
    plt = _pyplot()
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.8 * rows), squeeze=False)
    for axes, (name, curves) in zip(grid.flat, panels.items(), strict=False):
        for strategy, (means, lows, highs) in curves.items():
            steps = range(1, len(means) + 1)  # the curve's first point: one architecture trained
            axes.plot(steps, means, label=strategy)
            axes.fill_between(steps, lows, highs, alpha=0.2)
        axes.set_xscale("log")
        axes.set_ylim(bottom=0)
        axes.set_title(name, fontsize=10)
        axes.set_xlabel("distinct architectures trained")
        axes.set_ylabel("regret (points)")
        axes.grid(True, which="both", alpha=0.3)
    for axes in list(grid.flat)[len(panels):]:
        axes.axis("off")
    handles, labels = grid.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower right", ncols=2)
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _save(figure, path, dpi=100, top=0.985)  # the title above the first row's panel titles, not over them


def _legend_above(ax: Any) -> None:
    """`ax`'s legend in rows above it, clear of its points (inside, in a corner, it hid the points of a
    long search's last children and of the largest children)."""
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False, fontsize="small")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path, dpi: int = 100, top: float = 1.0) -> Path:
    """Lay `fig` out (its axes below `top`, a fraction of its height), write it to `path` whole or not
    at all (a stop mid-write keeps the picture before), close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout(rect=(0, 0, 1, top))
    try:
        write_atomically(Path(path), lambda f: fig.savefig(f, dpi=dpi, format=Path(path).suffix[1:] or "png"))
    finally:
        plt.close(fig)
    return path

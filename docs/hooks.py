"""MkDocs hooks: publish the study's plot (benchmarks/strategies.png, written by `make bench`) with the
guide, and turn a `<!-- csv-table: FILE -->` line into a Markdown table of that committed CSV file."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = {"img/strategies.png": ROOT / "benchmarks" / "strategies.png",
             # the figures of the default search (`make run`, 2026-11-23), as its run directory holds them
             **{f"img/run-{name}": ROOT / "benchmarks" / "default-run" / name
                for name in ("search.png", "pareto.png", "best.png")},
             # bench sharing's pairs: shared-weight against stand-alone accuracy (chapter 9)
             "img/sharing-cnn576.png": ROOT / "benchmarks" / "sharing-fashion-mnist-cnn576.png",
             # two default searches in one --logdir, as TensorBoard shows them (chapter 8)
             "img/tensorboard.png": ROOT / "benchmarks" / "tensorboard.png"}


def on_files(files: Files, config: Any) -> Files:
    for uri, source in PUBLISHED.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


CSV_TABLE = re.compile(r"^<!-- csv-table: (?P<path>[\w./-]+) -->$", re.MULTILINE)


def csv_table(path: Path) -> str:
    """A CSV file as a Markdown table, one row per line; a column X_mean beside X_ci95 becomes one
    column "X (95% CI)" of "mean ± half-width", so the study's table fits the page."""
    with path.open(newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    columns: list[tuple[str, list[str]]] = []  # title, the CSV columns it shows
    for name in header:
        if name.endswith("_ci95") and name[:-5] + "_mean" in header:
            continue
        if name.endswith("_mean") and name[:-5] + "_ci95" in header:
            columns.append((f"{name[:-5].replace('_', ' ')} (95% CI)", [name, name[:-5] + "_ci95"]))
        else:
            columns.append((name.replace("_", " "), [name]))
    lines = ["| " + " | ".join(title for title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(" ± ".join(row[c] for c in shown) for _, shown in columns) + " |")
    return "\n".join(lines)


UPDATE_TRACE = re.compile(r"^<!-- update-trace: (?P<path>[\w./-]+) -->$", re.MULTILINE)


def first_update(path: Path) -> list[dict[str, Any]]:
    """The episodes of a recorded search up to and including its first policy update."""
    episodes = []
    for line in path.read_text().splitlines():
        episodes.append(json.loads(line))
        if episodes[-1]["update"] is not None:
            return episodes
    raise ValueError(f"{path} records no policy update")


def update_trace(path: Path) -> str:
    """The first update of a recorded search as a table: each sample's reward, baseline and
    advantage as episodes.jsonl holds them, then what update_policy() reported."""
    episodes = first_update(path)
    lines = ["| \\(k\\) | architecture | \\(R_k\\) (validation accuracy) | \\(b_k\\) (`baseline`) | "
             "\\(A_k = R_k - b_k\\) (`reward`) |", "|---|---|---|---|---|"]
    for e in episodes:
        baseline = "— (none yet: \\(b_1 = R_1\\))" if e["baseline"] is None else f"{e['baseline']:.6f}"
        lines.append(f"| {e['episode']} | `{e['describe']}` | {e['metrics']['accuracy']:.6f} | {baseline} | "
                     f"{e['reward']:+.6f} |")
    update = episodes[-1]["update"]
    lines += ["", f"`update_policy()` after sample {episodes[-1]['episode']}: loss \\(L = {update['loss']:.6f}\\), "
              f"mean score {update['mean_score']:.6f}, normalised entropy per decision {update['entropy']:.6f}."]
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    markdown = CSV_TABLE.sub(lambda match: csv_table(ROOT / match["path"]), markdown)
    return UPDATE_TRACE.sub(lambda match: update_trace(ROOT / match["path"]), markdown)

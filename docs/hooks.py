"""MkDocs hook: publish the study's plot (benchmarks/strategies.png, written by `make bench`) with the guide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = {"img/strategies.png": ROOT / "benchmarks" / "strategies.png"}


def on_files(files: Files, config: Any) -> Files:
    for uri, source in PUBLISHED.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files

"""The README's Python example runs as written; its figures are the committed benchmarks'."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "best: conv" in out and "test accuracy: 0." in out


def test_the_study_table_is_the_committed_record() -> None:
    # bench strategies writes benchmarks/strategies.md from benchmarks/strategies.csv; the README shows it
    table = (README.parent / "benchmarks" / "strategies.md").read_text()
    assert table in README.read_text(), "README's Search quality table differs from benchmarks/strategies.md"

"""The README's Python example runs as written; its figures are the committed benchmarks'."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its tempfile.mkdtemp() run, not in /tmp for good
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "best: conv" in out and "test accuracy: 0." in out
    predicted = re.search(r"^found: .* classes: (\[.*\])$", out, re.M)
    exported = re.search(r"^ONNX Runtime's classes: (\[.*\])$", out, re.M)
    assert predicted and exported and predicted[1] == exported[1]  # best.onnx takes the raw pixels too
    photo = re.search(r"^image files' classes: \[(\d+)\] \(''[,)]", out, re.M)  # nothing done to a 28x28 file
    assert photo and int(photo[1]) == json.loads(predicted[1])[0]  # negated twice: the test image itself


def test_the_study_table_is_the_committed_record() -> None:
    # bench strategies writes benchmarks/strategies.md from benchmarks/strategies.csv; the README shows it
    table = (README.parent / "benchmarks" / "strategies.md").read_text()
    assert table in README.read_text(), "README's Search quality table differs from benchmarks/strategies.md"


def flag_table() -> dict[str, set[str] | None]:
    """The README's table of `python -m nas_pattern.run` flags: each flag, with its choices when
    the row lists them (`--agent {reinforce,...}`)."""
    section = README.read_text().split("## The command line", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(--[a-z-]+)(?: \{([^}]*)\})?[^`]*` \|", section, flags=re.M)
    assert rows, "README's command line section has no flag table"
    return {flag: set(choices.split(",")) if choices else None for flag, choices in rows}


def test_the_flag_table_names_every_flag_of_the_cli_and_its_choices() -> None:
    from nas_pattern.config import build_parser

    table, actions = flag_table(), build_parser()._actions
    for action in actions:
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if flag is None or flag == "--help":
            continue
        assert flag in table, f"README's flag table has no row for {flag}"
        if action.choices is not None:
            assert table[flag] == {str(c) for c in action.choices}, f"README lists other choices for {flag}"
    cli = {option for action in actions for option in action.option_strings}
    assert set(table) <= cli, f"README's flag table names flags the CLI lacks: {sorted(set(table) - cli)}"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_contents_list_every_section_in_order_and_every_anchor_is_a_heading() -> None:
    text = README.read_text()
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    contents = text.split("**This README:** ", 1)[1].split("\n\n", 1)[0]
    listed = [(" ".join(name.split()), anchor) for name, anchor in re.findall(r"\[([^]]+)\]\(#([^)]+)\)", contents)]
    assert listed == [(name, github_anchor(name)) for name in sections]
    headings = {github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}
    assert set(re.findall(r"\]\(#([^)]+)\)", text)) <= headings

"""The study's landscapes: the measured tables load and pass the table checks, the synthetic ones
have the optimum they were built with, and a few-seed study covers every landscape."""

from __future__ import annotations

import csv
import itertools
import math
import random
from pathlib import Path

import pytest

from nas_pattern.bench import landscapes
from nas_pattern.bench.cli import main as bench
from nas_pattern.bench.study import STRATEGIES
from nas_pattern.search_space import Decision, SearchSpace
from nas_pattern.table import Row, Table

ROOT = Path(__file__).resolve().parents[1]
MEASURED = [name for name, landscape in landscapes.LANDSCAPES.items() if landscape.path is not None]
SMALL = {"additive", "interacting", "deceptive"}  # 13,824 architectures; the others have a million encodings
SYNTHETIC = [name for name, landscape in landscapes.LANDSCAPES.items() if landscape.make is not None
             and name in SMALL]
LARGE = [name for name, landscape in landscapes.LANDSCAPES.items() if landscape.make is not None
         and name not in SMALL]


@pytest.mark.parametrize("name", MEASURED)
def test_each_measured_table_loads_whole_with_its_budget(name: str, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    table = landscapes.load(name)
    assert table.complete and table.metadata["complete"]
    budget = table.metadata["budget"]
    assert budget["train_images"] >= 2000 and budget["epochs"] >= 1 and budget["val_images"] == 5000
    assert len({row.val_accuracy for row in table.rows.values()}) > len(table.rows) // 4  # a landscape, not a plateau


def test_the_held_out_landscapes_include_an_rnn_space_a_skip_space_and_a_larger_budget(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    held_out = {name: landscapes.load(name) for name in MEASURED if not landscapes.LANDSCAPES[name].tuned}
    assert any(t.metadata["budget"].get("network") == "rnn" for t in held_out.values())
    assert any(t.space.skip_connections and t.space.variable_depth for t in held_out.values())
    tuned = landscapes.load("cnn576")
    assert any(t.metadata["budget"]["train_images"] > tuned.metadata["budget"]["train_images"]
               for t in held_out.values())
    assert {n for n, land in landscapes.LANDSCAPES.items() if land.tuned} == {"cnn576", "additive", "additive-1.7m",
                                                                               "nk1-1.7m"}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_each_synthetic_landscape_has_its_known_optimum(name: str) -> None:
    table = landscapes.load(name)
    assert table.complete and len(table.rows) == landscapes.SYNTHETIC_SPACE.size == 13_824
    architecture, row = table.best
    assert architecture.to_json() == table.metadata["optimum"]
    runner_up = max(r.val_accuracy for a, r in table.rows.items() if a != architecture)
    assert row.val_accuracy > runner_up
    assert landscapes.load(name).rows == table.rows  # the same seed, the same landscape


def test_the_additive_optimum_is_each_decisions_best_choice() -> None:
    table = landscapes.load("additive")
    space = table.space
    optimum = space.encode(table.best[0])
    # Changing any one decision of the optimum lowers it; so does any single change of any other
    # architecture towards the optimum raise it (no interactions).
    for step, n in enumerate(space.num_choices):
        for choice in range(n):
            if choice != optimum[step]:
                other = list(optimum)
                other[step] = choice
                assert table.rows[space.decode(other)].val_accuracy < table.best[1].val_accuracy


def test_the_deceptive_landscape_slopes_away_from_its_optimum() -> None:
    table = landscapes.load("deceptive")
    space = table.space
    best = space.encode(table.best[0])
    near = [a for a in table.rows if sum(x != y for x, y in zip(space.encode(a), best, strict=True)) == 6]
    far = [a for a in table.rows if sum(x != y for x, y in zip(space.encode(a), best, strict=True)) == 12]
    mean = lambda rows: sum(table.rows[a].val_accuracy for a in rows) / len(rows)  # noqa: E731
    assert mean(far) > mean(near)  # most of the space points away from the optimum


@pytest.mark.parametrize("name", LARGE)
def test_each_large_landscape_has_a_million_encodings_and_its_optimum_above_every_other(name: str) -> None:
    table = landscapes.load(name)
    values = table.rows.scores  # one per encoding: the optimum is checked against all of them
    assert landscapes.encodings(table.space) == len(values) >= 1_000_000
    architecture, row = table.best
    assert architecture.to_json() == table.metadata["optimum"]
    equal = values == row.val_accuracy
    # nothing else is as good: only the optimum's own encodings share its value
    assert int(equal.sum()) == len(table.space.encodings(architecture)) * _unused(table.space, architecture)
    assert float(values.max()) == row.val_accuracy and 0.7 < row.val_accuracy < 1.0
    assert landscapes.load(name).rows == table.rows  # the same seed, the same landscape
    assert table.complete and architecture in table.rows


def _unused(space: SearchSpace, architecture) -> int:
    """How many ways the steps an architecture does not use can be filled (each is another encoding)."""
    encoding = space.encode(architecture)
    return math.prod(space.num_choices[space.used_steps(encoding):])


def test_the_large_additive_optimum_is_each_decisions_best_and_the_sparse_one_turns_on_three() -> None:
    additive = landscapes.load("additive-1.7m")
    space, _values = additive.space, additive.rows.scores
    optimum = space.encode(additive.best[0])
    for step, n in enumerate(space.num_choices):
        for choice in set(range(n)) - {optimum[step]}:
            other = [*optimum[:step], choice, *optimum[step + 1:]]
            assert additive.rows[space.decode(other)].val_accuracy < additive.best[1].val_accuracy
    sparse = landscapes.load("sparse-1.7m")
    best = space.encode(sparse.best[0])
    # The worst choice of a decision that matters costs more than changing all five others at once.
    others = [c if t in landscapes.SPARSE_STEPS else (c + 1) % n
              for t, (c, n) in enumerate(zip(best, space.num_choices, strict=True))]
    minor = sparse.rows[space.decode(others)].val_accuracy
    for step in landscapes.SPARSE_STEPS:
        changed = [[*best[:step], c, *best[step + 1:]] for c in range(space.num_choices[step]) if c != best[step]]
        assert max(sparse.rows[space.decode(e)].val_accuracy for e in changed) < sparse.best[1].val_accuracy
        assert min(sparse.rows[space.decode(e)].val_accuracy for e in changed) < minor
    # values is the landscape itself: the rows are made from it, index by index
    assert float(sparse.rows.scores[sparse.rows.index(sparse.best[0])]) == sparse.best[1].val_accuracy


def test_every_encoding_of_a_skips_architecture_has_its_value() -> None:
    table = landscapes.load("skips-1.1m")
    space = table.space
    assert (landscapes.encodings(space), space.size) == (1_119_744, 141_300)
    strides = [math.prod(space.num_choices[t + 1:]) for t in range(len(space.num_choices))]
    rng = random.Random(0)
    shared = 0
    for _ in range(200):
        architecture = space.decode([rng.randrange(n) for n in space.num_choices])
        value = table.rows[architecture].val_accuracy
        used = space.used_steps(space.encode(architecture))
        for encoding in space.encodings(architecture):
            tail = [rng.randrange(n) for n in space.num_choices[used:]]  # what the unused steps hold does not matter
            full = [*encoding, *tail]
            assert space.decode(full) == architecture
            assert float(table.rows.scores[sum(c * s for c, s in zip(full, strides, strict=False))]) == value
            shared += 1
    assert shared > 200  # architectures with several encodings were among them


def test_a_table_of_a_space_with_depth_and_skips_survives_its_file(tmp_path: Path) -> None:
    space = SearchSpace((Decision("filters", (8, 16)), Decision("pool_size", (1, 2))), max_layers=3, min_layers=1,
                        skip_connections=True, layer_format="conv 3x{filters} pool{pool_size}")
    rows = {a: Row(0.5 + i / 1000, 0.5, 0.5, 0.5, 10 * i, 0.1) for i, a in enumerate(space)}
    assert len(rows) == space.size == 4 + 16 + 64 * 3
    Table(space, rows, {"space": space.to_json()}).save(tmp_path / "t.csv")
    table = Table.load(tmp_path / "t.csv")
    assert table.rows == rows
    with (tmp_path / "t.csv").open() as stream:
        records = list(csv.DictReader(itertools.islice(stream, 1, None)))
    shallow = next(r for r in records if r["depth"] == "1")
    assert shallow["l2_filters"] == "" and shallow["l1_filters"] in ("8", "16")


def test_a_study_whose_out_cannot_be_written_is_refused_before_it_runs(tmp_path: Path, capsys, monkeypatch) -> None:
    """It wrote its record after the first landscape's searches: minutes of a study, lost to a bad --out."""
    monkeypatch.chdir(ROOT)
    (tmp_path / "file").write_text("")
    for out, why in [("/proc/nas-bench-out", "cannot be created: No such file or directory"),
                     (str(tmp_path / "file"), "is a file, not a folder")]:
        assert bench(["strategies", "--seeds", "1", "--budgets", "3", "--workers", "1", "--out", out]) == 2
        printed, err = capsys.readouterr()
        assert printed == "" and err == f"python -m nas_pattern.bench: error: --out {out} {why}\n"


@pytest.mark.slow
def test_a_few_seed_study_covers_every_landscape(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    assert bench(["strategies", "--seeds", "2", "--budgets", "3,6", "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with (out / "strategies.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert {(r["landscape"], r["strategy"], int(r["budget"])) for r in rows} == {
        (land, s, b) for land in landscapes.LANDSCAPES for s in STRATEGIES for b in (3, 6)}
    for row in rows:
        assert row["held_out"] == str(not landscapes.LANDSCAPES[row["landscape"]].tuned)
    for name in landscapes.LANDSCAPES:
        assert name in printed
    assert "REINFORCE against the rivals on the held-out landscapes" in printed
    assert "(tuned on)" in (out / "regret.csv").read_text()
    assert (out / "strategies.png").stat().st_size > 20_000


def test_an_unknown_landscape_is_one_line_and_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench(["strategies", "--landscapes", "cnn576,moon"])
    assert exit_.value.code == 2
    assert "unknown landscape(s) moon" in capsys.readouterr().err


@pytest.mark.slow
def test_the_scripts_behind_the_tuning_figures_run_and_refuse_a_bad_command_line() -> None:
    """benchmarks/explore_variants.py and sparse_parts.py print the figures of large.txt and
    sparse-parts.txt, which the README quotes; nothing ran them, and a bad command line was an
    IndexError's traceback."""
    import subprocess
    import sys

    def script(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], capture_output=True,
                              text=True, timeout=300, cwd=ROOT)

    done = script("explore_variants.py", "additive-1.7m", "defaults", "0", "2")
    assert done.returncode == 0, done.stderr
    assert [line.split()[:3] for line in done.stdout.splitlines()] == [["additive-1.7m", "defaults", "25:"]]
    done = script("sparse_parts.py", "additive3", "reinforce,random", "0", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("additive3: seeds 0-1; mean ± 95% half-width over the seeds\n")
    assert done.stdout.count(" regret ") == 6 and "three that decide" in done.stdout
    for name, args, why in [("explore_variants.py", ["additive-1.7m", "nope", "0", "2"], "unknown variant 'nope'"),
                            ("sparse_parts.py", ["pure", "reinforce", "0", "1"], "an interval needs two seeds")]:
        refused = script(name, *args)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.startswith(f"benchmarks/{name}: error: ") and why in refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr

"""The measured table, TabularNetwork, and the study of search strategies that runs on it."""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import children_of, gone, in_group
from helpers import files as files_under
from nas_pattern import AgentConfig, Decision, NASController, RandomAgent, ReinforceConfig, SearchConfig, SearchSpace
from nas_pattern.bench import study
from nas_pattern.bench import tabulate as tabulate_module
from nas_pattern.bench import tune as tune_module
from nas_pattern.bench.cli import main as bench
from nas_pattern.bench.study import STRATEGIES, run_search
from nas_pattern.networks.tabular import TabularNetwork
from nas_pattern.table import Row, Table

SPACE = SearchSpace((Decision("filters", (8, 16)), Decision("kernel_size", (1, 3)), Decision("pool_size", (1, 2)),
                     Decision("dropout_rate", (0.0, 0.25))), max_layers=2,
                    layer_format="conv {kernel_size}x{filters} pool{pool_size} drop{dropout_rate}")


def synthetic_table(space: SearchSpace = SPACE) -> Table:
    """Accuracy grows with every choice index, so the last architecture is the optimum."""
    rows = {}
    for i, architecture in enumerate(space):
        accuracy = 0.5 + 0.4 * sum(space.encode(architecture)) / len(space.num_choices)
        rows[architecture] = Row(val_accuracy=round(accuracy, 4), val_loss=1 - accuracy,
                                 test_accuracy=round(accuracy - 0.01, 4), test_loss=1.1 - accuracy, params=100 + i,
                                 train_seconds=0.5)
    return Table(space, rows, {"space": space.to_json(), "dataset": "synthetic", "num_classes": 10})


@pytest.fixture
def table_file(tmp_path: Path) -> Path:
    path = tmp_path / "table.csv"
    synthetic_table().save(path)
    return path


def test_a_table_survives_its_file(table_file: Path) -> None:
    table = Table.load(table_file)
    assert table.rows == synthetic_table().rows
    assert table.complete and table.space == SPACE
    assert table.best[0] == SPACE.decode([1] * 8)
    assert not table_file.with_name("table.csv.tmp").exists()


def test_tabular_network_reports_the_table_through_the_controller(table_file: Path) -> None:
    table = Table.load(table_file)
    controller = NASController(RandomAgent(SPACE), table.dataset(),
                               network=functools.partial(TabularNetwork, table=table),
                               config=SearchConfig(episodes=12, stop_entropy=0.0))
    result = controller.final_test(controller.search())
    for episode in result.episodes:
        row = table.rows[episode.architecture]
        assert episode.metrics is not None
        assert (episode.metrics.accuracy, episode.metrics.params) == (row.val_accuracy, row.params)
    assert result.test is not None and result.test.accuracy == table.rows[result.best.architecture].test_accuracy


def test_tabular_network_evaluates_only_validation_and_test(table_file: Path) -> None:
    table = Table.load(table_file)
    network = TabularNetwork(SPACE.decode([0] * 8), (1, 1, 1), 10, table=table)
    network.build()
    with pytest.raises(ValueError, match="knows the 'val' and 'test' splits, not 'train'"):
        network.evaluate(table.dataset().train)
    other = SearchSpace((Decision("filters", (99,)), *SPACE.decisions[1:]), max_layers=2)
    assert TabularNetwork(other.decode([0] * 8), (1, 1, 1), 10, table=table).validate() != []


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.mark.parametrize(("corrupt", "message"), [
    (lambda lines: lines[1:], "the first line must be '# nas-pattern table'"),
    (lambda lines: ["# nas-pattern table {not json", *lines[1:]], "the metadata line is not valid JSON"),
    (lambda lines: ['# nas-pattern table {"space": {"decisions": []}}', *lines[1:]], "decisions must be"),
    (lambda lines: [lines[0], lines[1].replace("params", "size"), *lines[2:]], "the header row must be"),
    (lambda lines: [*lines[:2], lines[2] + ",7", *lines[3:]], "line 3 has 17 fields"),
    (lambda lines: [*lines[:2], lines[2].replace(",8,1,", ",16,1,", 1), *lines[3:]], "line 3: its choices"),
    (lambda lines: [*lines[:3], lines[2], *lines[4:]], "line 4: architecture 0 appears twice"),
    (lambda lines: [*lines[:2], lines[2].replace(",0.5,", ",1.5,", 1), *lines[3:]], "val_accuracy 1.5 is not in"),
    (lambda lines: [*lines[:2], lines[2].replace(",0.5,", ",half,", 1), *lines[3:]], "line 3: could not convert"),
    (lambda lines: lines[:-1], "it holds 255 of the 256 architectures of its space; finish it"),
    (lambda lines: lines[:2], "it holds no rows"),
    (lambda lines: [lines[0].replace('"max_layers": 2', '"max_layers": 2, "min_layers": 1'), *lines[1:]],
     "the header row must be index,architecture,depth,l1_filters"),
])
def test_a_malformed_table_is_refused_with_one_line(table_file: Path, corrupt, message: str) -> None:
    table_file.write_text("\n".join(corrupt(_lines(table_file))) + "\n")
    with pytest.raises(ValueError, match=message) as error:
        Table.load(table_file)
    assert str(table_file) in str(error.value) and "\n" not in str(error.value)


def test_a_missing_table_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="bench tabulate"):
        Table.load(tmp_path / "none.csv")


@pytest.mark.parametrize("sections", [[], ["trainer", "strategies"], ["tune"], ["sharing"]])
def test_the_bench_refuses_a_missing_table_before_its_first_section(sections: list[str], tmp_path: Path, monkeypatch,
                                                                    capsys) -> None:
    monkeypatch.chdir(tmp_path)  # outside a checkout: no benchmarks/ with the measured tables
    assert bench(sections) == 2
    out, err = capsys.readouterr()
    assert out == ""  # not after minutes of the trainer and the search sections: at once
    assert err.startswith("python -m nas_pattern.bench: error: table benchmarks/fashion-mnist-") \
        and "committed in the nas-pattern repository's benchmarks/ folder" in err and err.count("\n") == 1


def test_the_bench_checks_no_table_that_tabulate_writes_first() -> None:
    from nas_pattern.bench import cli

    def read(*argv: str) -> list[str]:
        args = cli.parser().parse_args(argv)
        return cli._tables_read(args, args.sections)

    assert read("tabulate", "tune", "--table", "new.csv") == []  # tabulate writes it before tune reads it
    assert read("tune", "--table", "mine.csv") == ["mine.csv"]
    assert read("strategies", "--landscapes", "sparse-1.7m") == []  # a synthetic landscape: no file


@pytest.mark.slow
def test_a_search_spends_its_budget_on_distinct_architectures(table_file: Path) -> None:
    table = Table.load(table_file)
    trace = run_search(table, "random", seed=0, budget=40)
    assert len(trace.best_val) == 40  # 40 distinct architectures, however many samples it took
    assert len(trace.rewards) >= 40
    assert trace.best_val == sorted(trace.best_val)  # best so far never falls
    assert trace.at(1000) == (trace.best_val[-1], trace.best_test[-1])
    # REINFORCE sampling with replacement converges on an easy table and stops exploring: its
    # search ends early (only repeats), keeping its best.
    config = AgentConfig(reinforce=ReinforceConfig(learning_rate=0.1, temperature=1.0, without_replacement=False,
                                                           replay=0))  # the agent before replay
    converged = run_search(table, "reinforce", seed=0, budget=256, config=config)
    assert len(converged.best_val) < 256
    assert converged.at(256)[0] == table.best[1].val_accuracy
    # Drawing each architecture once, the same agent spends the whole budget on new ones.
    config = AgentConfig(reinforce=ReinforceConfig(learning_rate=0.1, temperature=1.0))
    spent = run_search(table, "reinforce", seed=0, budget=256, config=config)
    assert len(spent.best_val) == 256 and len(spent.rewards) == 256


@pytest.mark.slow
def test_the_study_reports_every_strategy_and_budget(table_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert bench(["strategies", "--table", str(table_file), "--seeds", "3", "--budgets", "4,16,8",
                  "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with (out / "strategies.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["strategy"], int(r["budget"])) for r in rows] == [(s, b) for s in STRATEGIES for b in (4, 8, 16)]
    for row in rows:
        assert int(row["seeds"]) == 3
        assert 0.0 <= float(row["regret_mean"]) <= 0.4
        assert row["strategy"] in printed
    regret = {(r["strategy"], int(r["budget"])): float(r["regret_mean"]) for r in rows}
    assert all(regret[s, 4] >= regret[s, 8] >= regret[s, 16] for s in STRATEGIES)  # more budget never hurts
    assert (out / "strategies.png").stat().st_size > 10_000


def test_a_study_of_one_strategy_replaces_its_rows_and_keeps_the_others(table_file: Path, tmp_path: Path,
                                                                        capsys) -> None:
    out = tmp_path / "out"
    assert bench(["strategies", "--table", str(table_file), "--seeds", "2", "--budgets", "4,8",
                  "--strategies", "reinforce,random", "--workers", "1", "--out", str(out)]) == 0
    before = (out / "strategies.csv").read_text().splitlines()
    curves = (out / "curves.csv").read_text().splitlines()
    assert len(curves) == 1 + 2 * 8  # a point per architecture trained, per strategy
    assert bench(["strategies", "--table", str(table_file), "--seeds", "3", "--first-seed", "200",
                  "--budgets", "4,8", "--strategies", "random", "--workers", "1", "--out", str(out)]) == 0
    assert "keeping 1 landscape-strategy pair(s) of earlier runs" in capsys.readouterr().out
    with (out / "strategies.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["strategy"], r["seeds"], r["first_seed"]) for r in rows] == [
        ("reinforce", "2", "100"), ("reinforce", "2", "100"), ("random", "3", "200"), ("random", "3", "200")]
    assert [line for line in before if ",reinforce," in line] == \
        [line for line in (out / "strategies.csv").read_text().splitlines() if ",reinforce," in line]
    assert (out / "curves.csv").read_text().splitlines()[:9] == curves[:9]  # reinforce's curve, kept
    table = (out / "strategies.md").read_text().splitlines()
    assert len(table) == 2 + 2 and table[2].startswith(f"| {table_file.stem} | ")
    size = Table.load(table_file).space.size  # its encodings are its architectures: one figure
    assert table[2].split(" | ")[1:3] == [f"{size:,}", "REINFORCE"] and table[3].startswith("|  |  | random |")


@pytest.mark.parametrize("stopped_in", [1, 2])
def test_a_stopped_study_keeps_the_landscapes_it_finished_and_says_so(stopped_in: int, tmp_path: Path, monkeypatch,
                                                                      capsys) -> None:
    """Ctrl-C or SIGTERM in a study of many landscapes (an hour and more for all thirteen) ended it in
    a traceback that said nothing of what --out held."""
    out = tmp_path / "out"
    study_of = ["strategies", "--seeds", "2", "--budgets", "4,8", "--strategies", "random", "--workers", "1",
                "--out", str(out), "--landscapes"]
    assert bench([*study_of, "additive"]) == 0  # the record of an earlier run
    before = files_under(out)
    run_study, landscapes = study.run_study, []

    def stopped(source: str, *args, **kwargs) -> dict[str, list[study.Trace]]:
        landscapes.append(source)
        if len(landscapes) == stopped_in:
            raise KeyboardInterrupt  # as Ctrl-C, or SIGTERM (bench's sigterm_as_interrupt), raises it
        return run_study(source, *args, **kwargs)

    monkeypatch.setattr(study, "run_study", stopped)
    capsys.readouterr()
    assert bench([*study_of, "cnn576,rnn256"]) == 130
    err = capsys.readouterr().err
    with (out / "strategies.csv").open() as stream:
        recorded = {row["landscape"] for row in csv.DictReader(stream)}
    if stopped_in == 1:
        assert err == (f"\npython -m nas_pattern.bench: interrupted; no landscape's study was finished; {out} is as "
                       "it was\n")
        assert files_under(out) == before
    else:
        assert err == (f"\npython -m nas_pattern.bench: interrupted; the study of cnn576 (1 of 2 landscapes) is "
                       f"recorded in {out}\n")
        assert recorded == {"additive", "cnn576"}
        assert "| cnn576 (tuned on) |" in (out / "strategies.md").read_text()


def test_a_study_stopped_while_it_writes_its_record_keeps_the_record_whole(tmp_path: Path, monkeypatch,
                                                                            capsys) -> None:
    """strategies.csv was opened for writing, and so emptied, before its rows were made: a stop in
    between lost every landscape's rows (the committed record holds thirteen)."""
    out = tmp_path / "out"
    study_of = ["strategies", "--seeds", "2", "--budgets", "4,8", "--strategies", "random", "--workers", "1",
                "--out", str(out), "--landscapes"]
    assert bench([*study_of, "additive"]) == 0
    before = files_under(out)

    def stop(self: study.Summary) -> dict:
        raise KeyboardInterrupt  # as the first row is made

    monkeypatch.setattr(study.Summary, "row", stop)
    assert bench([*study_of, "cnn576"]) == 130
    assert files_under(out) == before  # every file as it was, and no temporary one beside them
    assert "no landscape's study was finished" in capsys.readouterr().err


def test_a_stop_while_a_landscape_is_written_comes_once_its_record_is_whole(tmp_path: Path, monkeypatch,
                                                                              capsys) -> None:
    """The record is several files: a Ctrl-C between strategies.csv and curves.csv left the one with
    the landscape and the other without, and the line said the record was as it was."""
    from nas_pattern.bench import record

    out = tmp_path / "out"
    write = record.write_curves_csv

    def interrupted(*args) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C, between the study's files
        write(*args)

    monkeypatch.setattr(record, "write_curves_csv", interrupted)
    assert bench(["strategies", "--seeds", "2", "--budgets", "4,8", "--strategies", "random", "--workers", "1",
                  "--out", str(out), "--landscapes", "cnn576,rnn256"]) == 130
    assert capsys.readouterr().err == (f"\npython -m nas_pattern.bench: interrupted; the study of cnn576 (1 of 2 "
                                       f"landscapes) is recorded in {out}\n")
    assert "cnn576" in (out / "curves.csv").read_text() and "cnn576" in (out / "strategies.md").read_text()
    assert (out / "strategies.png").exists()


def test_a_study_that_cannot_write_its_record_says_so_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """A full disk under --out ended the study in a traceback (two, chained), after its searches."""
    from nas_pattern import files

    out = tmp_path / "out"
    study_of = ["strategies", "--seeds", "2", "--budgets", "4,8", "--strategies", "random", "--workers", "1",
                "--out", str(out), "--landscapes"]
    assert bench([*study_of, "additive"]) == 0
    before = files_under(out)
    write = files.write_atomically

    def full(path: Path, *args) -> None:
        if path.name == "curves.csv":  # strategies.csv is written first, whole
            raise OSError(errno.ENOSPC, "No space left on device", str(path) + ".tmp")
        write(path, *args)

    monkeypatch.setattr(files, "write_atomically", full)
    capsys.readouterr()
    assert bench([*study_of, "cnn576"]) == 1
    assert capsys.readouterr().err == (f"python -m nas_pattern.bench: error: cannot write {out / 'curves.csv'}: No "
                                       "space left on device; every file it wrote is whole (none is left "
                                       "half-written)\n")
    after = files_under(out)
    assert after["curves.csv"] == before["curves.csv"] and after["strategies.csv"] != before["strategies.csv"]
    assert set(after) == set(before)  # no temporary file left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the processes from /proc")
def test_ctrl_c_at_a_terminal_stops_a_study_and_its_worker_processes_in_one_line(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches every process of its group: each of the study's worker processes
    printed a KeyboardInterrupt traceback of its own, beside the bench's."""
    bench_ = subprocess.Popen(
        [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
         "os.execv(sys.executable, [sys.executable, '-m', 'nas_pattern.bench', *sys.argv[1:]])",
         "strategies", "--landscapes", "additive-1.7m,nk1-1.7m", "--strategies", "reinforce", "--workers", "2",
         "--out", str(tmp_path / "out")],  # minutes of searches: long after the signal
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert bench_.stdout is not None
        line = ""
        while not line.startswith("additive-1.7m"):  # the landscape's line: its study begins
            line = bench_.stdout.readline()
            assert line, "the bench ended before its study began"
        deadline = time.monotonic() + 120
        while len(children_of(bench_.pid, "spawn_main")) < 2:  # the pool's two worker processes are up
            assert time.monotonic() < deadline, "no worker processes"
            time.sleep(0.1)
        os.killpg(bench_.pid, signal.SIGINT)
        _, err = bench_.communicate(timeout=120)
        assert bench_.returncode == 130, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert err == (f"\npython -m nas_pattern.bench: interrupted; no landscape's study was finished; "
                       f"{tmp_path / 'out'} is as it was\n")
        assert gone(bench_.pid), f"left running: {in_group(bench_.pid)}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(bench_.pid, signal.SIGKILL)


@pytest.mark.slow
def test_tabulate_resumes_and_keeps_what_was_measured(tmp_path: Path, monkeypatch, capsys) -> None:
    space = SearchSpace((Decision("filters", (4,)), Decision("kernel_size", (1, 3)), Decision("pool_size", (2,)),
                         Decision("dropout_rate", (0.0,))), max_layers=1,
                        layer_format="conv {kernel_size}x{filters} pool{pool_size} drop{dropout_rate}")
    monkeypatch.setattr(tabulate_module, "TABLE_SPACE", space)
    path = tmp_path / "table.csv"
    args = ["tabulate", "--table", str(path), "--train-limit", "64", "--device", "cpu"]
    # A run stopped after the first architecture: its row stays exactly as it was measured.
    assert bench([*args]) == 0
    first = Table.load(path)
    kept = space.decode([0, 0, 0, 0])
    partial = Table(space, {kept: first.rows[kept]}, {**first.metadata, "complete": False})
    partial.save(path)
    capsys.readouterr()
    assert bench([*args]) == 0
    assert "1 already in" in capsys.readouterr().out
    table = Table.load(path)
    assert table.complete and table.rows[kept] == first.rows[kept]
    assert table.metadata["budget"]["train_images"] == 64 and table.metadata["complete"]
    # Another budget is refused, and the table is untouched.
    before = path.read_bytes()
    with pytest.raises(SystemExit, match="was written with another budget"):
        bench(["tabulate", "--table", str(path), "--train-limit", "32", "--device", "cpu"])
    assert path.read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("stopped_in", [1, 2])
def test_a_stopped_tabulate_says_how_much_of_the_table_it_kept(stopped_in: int, tmp_path: Path, monkeypatch,
                                                                capsys) -> None:
    """Ctrl-C or SIGTERM while tabulate trains (hours for a whole space) ended it in a traceback."""
    space = SearchSpace((Decision("filters", (4,)), Decision("kernel_size", (1, 3)), Decision("pool_size", (2,)),
                         Decision("dropout_rate", (0.0,))), max_layers=1,
                        layer_format="conv {kernel_size}x{filters} pool{pool_size} drop{dropout_rate}")
    monkeypatch.setattr(tabulate_module, "TABLE_SPACE", space)
    write, written = tabulate_module._write_table, []

    def stopped(*args) -> None:
        written.append(args)
        if len(written) == stopped_in:
            raise KeyboardInterrupt  # the child before it is in the table; this one is not
        write(*args)

    monkeypatch.setattr(tabulate_module, "_write_table", stopped)
    path = tmp_path / "table.csv"
    assert bench(["tabulate", "--table", str(path), "--train-limit", "64", "--device", "cpu"]) == 130
    err = capsys.readouterr().err
    if stopped_in == 1:
        assert err == "\npython -m nas_pattern.bench: interrupted; no architecture was trained to the end; nothing " \
                      "was written\n"
        assert not path.exists()
    else:
        assert err == (f"\npython -m nas_pattern.bench: interrupted; 1 of 2 architectures are in {path}; the same "
                       "command goes on from there\n")
        assert len(Table.load(path, partial=True).rows) == 1


@pytest.mark.parametrize(("argv", "message"), [
    (["strategies", "--budgets", "0,5"], "budgets must be >= 1"),
    (["strategies", "--budgets", "ten"], "expected comma-separated integers"),
    (["strategies", "--seeds", "0"], "argument --seeds: must be >= 1, got 0"),
    (["controller", "--updates", "0"], "argument --updates: must be >= 1, got 0"),
    (["nosuch"], "unknown section 'nosuch'; expected any of: trainer, controller"),
])
def test_bad_bench_flags_get_one_clear_line(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # no usage block above it


def test_a_missing_table_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert bench(["strategies", "--table", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist; write it with `python -m nas_pattern.bench tabulate`" in err


@pytest.mark.slow
def test_tune_varies_each_hyperparameter_and_tries_the_best_together(table_file: Path, capsys) -> None:
    assert bench(["tune", "--table", str(table_file), "--seeds", "1", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    for name, values in tune_module.TUNE_GRID.items():
        for value in values:
            assert f"{name} = {value:g} " in printed
    assert "best of each together" in printed and "tuning seeds 0..0" in printed

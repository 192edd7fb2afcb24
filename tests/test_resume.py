"""Nothing lost: a search killed at any moment resumes to the result of an uninterrupted one."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import SMALL_CNN, WouldRunCode, cli, files, full_disk, sigterm_in

SEARCH = ["--network", "rnn", "--episodes", "6", "--children-per-update", "2", "--train-limit", "300",
          "--seed", "1"]
COMMAND = [sys.executable, "-m", "nas_pattern.run"]
# wall times, paths and the children recorded before a session differ from run to run
PER_SESSION = ("seconds", "derive_seconds", "train_seconds", "run_dir", "recorded_before")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=300)


def comparable(value):
    """A record with what differs from session to session left out, for comparing two runs."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in PER_SESSION}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def episodes(run_dir: Path) -> list[dict]:
    return [comparable(json.loads(line)) for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


def summary(run_dir: Path) -> dict:
    return comparable(json.loads((run_dir / "summary.json").read_text()))


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return files(run_dir)


def start_and_stop(run_dir: Path, after: int, delay: float, how: int = signal.SIGKILL,
                   search: list[str] = SEARCH, command: list[str] | None = None) -> subprocess.Popen:
    """Start the search (or `command`, a resume of `run_dir`) and send it `how` `delay` seconds after
    its `after`-th child is recorded."""
    process = subprocess.Popen([*COMMAND, *(command or [*search, "--run-dir", str(run_dir)])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    record = run_dir / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while not (record.exists() and record.read_text().count("\n") >= after):
        assert process.poll() is None, "the search ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(delay)
    process.send_signal(how)
    process.wait(timeout=60)
    return process


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same search, never interrupted."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    done = run(*SEARCH, "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    return run_dir


# Kill points drawn at random (seeded, so a failure can be reproduced): after k recorded children,
# then a pause that lands at the start of the next child, inside it, or inside a checkpoint write.
KILLS = [(k, round(random.Random(k).uniform(0.0, 0.3), 2)) for k in random.Random(2026).sample(range(1, 6), 2)]


@pytest.mark.slow
@pytest.mark.parametrize(("after", "delay"), KILLS)
def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(after: int, delay: float, reference: Path,
                                                                tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    start_and_stop(run_dir, after, delay)
    before = (run_dir / "episodes.jsonl").read_bytes().split(b"\n")
    complete = before[:-1]  # lines that were whole when the process died
    assert len(complete) >= after

    done = run("--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    after_resume = (run_dir / "episodes.jsonl").read_bytes().split(b"\n")
    assert after_resume[:len(complete)] == complete  # every recorded child is still there, unchanged
    trained_again = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(trained_again) == 6 - len(complete)  # only the children that were not recorded ran
    assert episodes(run_dir) == episodes(reference)
    assert summary(run_dir) == summary(reference)


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["evolution", "tpe"])
def test_the_other_agents_resume_to_the_uninterrupted_result_too(agent: str, tmp_path: Path) -> None:
    search = [*SEARCH, "--agent", agent]
    done = run(*search, "--run-dir", str(tmp_path / "reference"))
    assert done.returncode == 0, done.stderr
    start_and_stop(tmp_path / "run", after=3, delay=0.05, search=search)  # between two policy updates
    done = run("--resume", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert episodes(tmp_path / "run") == episodes(tmp_path / "reference")
    assert summary(tmp_path / "run") == summary(tmp_path / "reference")


@pytest.mark.slow
def test_a_full_disk_stops_the_search_in_one_line_and_what_is_written_stays_whole(reference: Path, tmp_path: Path,
                                                                                   monkeypatch, capsys) -> None:
    from nas_pattern.run_dir import RunDirectory

    record, fsync = RunDirectory.record, os.fsync

    def fill_the_disk_at_the_third(self: RunDirectory, episode) -> None:
        with monkeypatch.context() as patch:
            if episode.episode == 3:
                patch.setattr(os, "fsync", full_disk)  # the line is written; the disk cannot keep it
            record(self, episode)

    monkeypatch.setattr(RunDirectory, "record", fill_the_disk_at_the_third)
    run_dir = tmp_path / "run"
    code, _, err = cli([*SEARCH, "--run-dir", str(run_dir)], capsys)
    assert code == 1
    assert err == (f"nas-pattern: error: cannot write to {run_dir}: No space left on device; 2 children are "
                   f"recorded there. Once it can be written to, continue with: python -m nas_pattern.run --resume "
                   f"{run_dir}\n")
    assert episodes(run_dir) == episodes(reference)[:2]  # whole lines: the third's was taken back
    assert os.fsync is fsync and not list(run_dir.glob("*.tmp"))
    monkeypatch.setattr(RunDirectory, "record", record)  # space again
    code, _, err = cli(["--resume", str(run_dir)], capsys)
    assert code == 0 and "warning" not in err, err  # no torn line to drop
    assert episodes(run_dir) == episodes(reference)
    assert summary(run_dir) == summary(reference)


@pytest.mark.parametrize("made_again", [False, True])
def test_a_run_directory_removed_under_its_search_stops_it_in_one_line(made_again: bool, tmp_path: Path,
                                                                       monkeypatch, capsys) -> None:
    import shutil

    from nas_pattern.run_dir import Recorder

    record, run_dir = Recorder.record, tmp_path / "run"

    def removed_before_the_third(self: Recorder, episode) -> None:
        if episode.episode == 3:  # `rm -rf` beside the search; then, maybe, a writer that makes it again
            shutil.rmtree(run_dir)
            if made_again:
                run_dir.mkdir()
        record(self, episode)

    monkeypatch.setattr(Recorder, "record", removed_before_the_third)
    code, out, err = cli([*SEARCH, "--no-tensorboard", "--run-dir", str(run_dir)], capsys)
    assert code == 1
    again = " (a new folder of that name has been made since)" if made_again else ""
    assert err == (f"nas-pattern: error: run directory {run_dir} was removed while its search ran{again}; the "
                   "search's record went with it, so the search stops here\n")  # not a traceback
    assert "[2/6]" in out  # two children were recorded before
    assert list(run_dir.iterdir()) == [] if made_again else not run_dir.exists()  # nothing went astray


def test_ctrl_c_after_its_run_directory_was_removed_says_so_and_not_how_to_resume(tmp_path: Path, monkeypatch,
                                                                                   capsys) -> None:
    import shutil

    from nas_pattern.run_dir import RunDirectory

    run_dir = tmp_path / "run"

    def removed_then_ctrl_c(self: RunDirectory, episode) -> None:
        shutil.rmtree(run_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDirectory, "record", removed_then_ctrl_c)
    code, _, err = cli([*SEARCH, "--no-tensorboard", "--run-dir", str(run_dir)], capsys)
    assert code == 130
    assert err == (f"\nnas-pattern: interrupted; run directory {run_dir} was removed while its search ran; the "
                   "search's record went with it, so the search stops here\n")  # no resume command that fails


@pytest.mark.slow
def test_ctrl_c_on_a_full_disk_says_how_to_resume_and_the_resume_replays_from_the_checkpoint_before(
        reference: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from nas_pattern.run_dir import RunDirectory

    record = RunDirectory.record

    def ctrl_c_after_the_fifth(self: RunDirectory, episode) -> None:
        record(self, episode)
        if episode.episode == 5:  # the disk full, then Ctrl-C: the checkpoint of the interrupt cannot be written
            monkeypatch.setattr(os, "fsync", full_disk)
            raise KeyboardInterrupt

    monkeypatch.setattr(RunDirectory, "record", ctrl_c_after_the_fifth)
    run_dir = tmp_path / "run"
    code, _, err = cli([*SEARCH, "--run-dir", str(run_dir)], capsys)
    assert code == 130
    assert err.endswith(f"interrupted; 5 children are recorded in {run_dir}. Continue with: python -m "
                        f"nas_pattern.run --resume {run_dir}\n"), err  # no traceback
    monkeypatch.undo()
    assert cli(["--resume", str(run_dir)], capsys)[0] == 0
    assert episodes(run_dir) == episodes(reference)  # the fifth replayed from the checkpoint of the fourth
    assert summary(run_dir) == summary(reference)


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    from nas_pattern.files import write_atomically

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"the old checkpoint")

    def half(f) -> None:
        f.write(b"half of a new one")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left on device"):
        write_atomically(path, half)
    assert path.read_bytes() == b"the old checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # the temporary's space is given back


def test_a_checkpoint_into_a_disk_that_fills_is_an_oserror_and_the_old_one_stays(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    """On a real full disk torch.save's zip writer turned ENOSPC into a RuntimeError of its own
    ("unexpected pos"), which the search's one-line handler of OSError did not catch: a traceback."""
    import torch

    from nas_pattern import files
    from nas_pattern.run_dir import RunDirectory

    class Filling:  # a file on a disk with 4 KiB left
        def __init__(self, f) -> None:
            self.f, self.room = f, 4096

        def write(self, data) -> int:
            taken = bytes(data)[:self.room]
            self.f.write(taken)
            self.room -= len(taken)
            if len(taken) < len(data):
                raise OSError(errno.ENOSPC, "No space left on device")
            return len(taken)

        def __getattr__(self, name: str):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.f.close()

    (tmp_path / "checkpoint.pt").write_bytes(b"the old checkpoint")
    monkeypatch.setattr(files, "open", lambda path, mode: Filling(open(path, mode)), raising=False)  # noqa: SIM115
    with pytest.raises(OSError, match="No space left on device"):
        RunDirectory(tmp_path).save_checkpoint({"weights": torch.zeros(10_000)})
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"the old checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


@pytest.mark.slow
def test_a_kill_during_a_checkpoint_write_leaves_the_old_checkpoint(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    start_and_stop(run_dir, after=5, delay=0.0)
    (run_dir / "checkpoint.pt.tmp").write_bytes(b"\x80\x02half a checkpoint")  # what a kill mid-write leaves
    done = run("--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert not (run_dir / "checkpoint.pt.tmp").exists()
    assert summary(run_dir) == summary(reference)


@pytest.mark.slow
def test_a_torn_last_line_is_dropped_with_a_warning(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    start_and_stop(run_dir, after=3, delay=0.0)
    with open(run_dir / "episodes.jsonl", "a") as f:
        f.write('{"episode": 4, "architecture": {"layers": [{"cell_')  # the write the kill cut short
    done = run("--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert "warning: dropped a half-written last line" in done.stderr
    assert episodes(run_dir) == episodes(reference)
    assert "Resuming " in done.stdout and "(this session; it resumed with 3 children recorded)" in done.stdout
    # summary.json says so too: its seconds are this session's, which began with 3 children recorded
    reference_summary, resumed_summary = (json.loads((d / "summary.json").read_text()) for d in (reference, run_dir))
    assert (reference_summary["recorded_before"], resumed_summary["recorded_before"]) == (0, 3)


@pytest.mark.slow
def test_sigterm_checkpoints_and_says_how_to_resume(reference: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = start_and_stop(run_dir, after=3, delay=0.1, how=signal.SIGTERM)
    assert process.returncode == 130
    stderr = process.stderr.read() if process.stderr else ""
    assert f"Continue with: python -m nas_pattern.run --resume {run_dir}" in stderr
    assert "Traceback" not in stderr
    assert (run_dir / "checkpoint.pt").exists()
    done = run("--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert summary(run_dir) == summary(reference)


HOLD = """import sys
from nas_pattern.session import args_from_json, open_search
search = open_search(args_from_json(sys.argv[1]))
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
def test_a_run_directory_in_use_by_another_process_is_refused_until_that_process_is_gone(tmp_path: Path) -> None:
    """A resume beside a search that still runs (in a JVM's engine here: a process that opened it and
    waits) is refused with one line; so is a new search there. Once that process is killed, the
    system has dropped its hold, and the resume runs."""
    run_dir = tmp_path / "run"
    config = json.dumps({"run-dir": str(run_dir), "network": "rnn", "episodes": 1, "train-limit": 100,
                         "no-tensorboard": True})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, config], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        before = snapshot(run_dir)
        for refused in (run("--resume", str(run_dir)), run(*SEARCH, "--run-dir", str(run_dir))):
            assert refused.returncode == 2
            assert refused.stderr == (f"nas-pattern: error: run directory {run_dir} is held by another search that "
                                      "is still open (a run in progress, or a controller of a JVM engine); let it "
                                      "end, or stop it and resume it\n")
        assert snapshot(run_dir) == before
    finally:
        holder.kill()
        holder.wait()
    done = run("--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert len(episodes(run_dir)) == 1


@pytest.mark.slow
def test_resuming_a_finished_search_says_so_and_how_to_extend_it(reference: Path) -> None:
    before = snapshot(reference)
    for more in ([], ["--episodes", "6"], ["--episodes", "5"]):  # its own budget, or less: nothing to do
        done = run("--resume", str(reference), *more)
        assert done.returncode == 0
        assert (f"holds a finished search (summary.json; its budget: 6 episodes); nothing to resume. To extend "
                f"it: --resume {reference} --episodes N, with N above 6." in done.stdout)
    assert snapshot(reference) == before


@pytest.mark.slow
def test_a_finished_search_extended_with_more_episodes_is_the_longer_search(reference: Path,
                                                                           tmp_path: Path) -> None:
    """--episodes on the resume of a finished search extends it; the extension is cut short in turn
    (its budget is kept in config.json), resumed, and ends as the uninterrupted longer search."""
    run_dir = tmp_path / "run"
    search = [*SEARCH, "--episodes", "3"]  # the last round has 1 of its 2 children: no policy update yet
    done = run(*search, "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert json.loads((run_dir / "summary.json").read_text())["episodes"] == 3
    start_and_stop(run_dir, after=4, delay=0.0, command=["--resume", str(run_dir), "--episodes", "6"])
    assert json.loads((run_dir / "config.json").read_text())["config"]["search"]["episodes"] == 6
    done = run("--resume", str(run_dir))  # no --episodes: the extension's budget, from config.json
    assert done.returncode == 0, done.stderr
    assert episodes(run_dir) == episodes(reference)
    assert summary(run_dir) == summary(reference)


@pytest.fixture
def unfinished(reference: Path, tmp_path: Path) -> Path:
    """A copy of the reference run as it was after 4 children, before its summary."""
    run_dir = tmp_path / "unfinished"
    run_dir.mkdir()
    (run_dir / "config.json").write_bytes((reference / "config.json").read_bytes())
    lines = (reference / "episodes.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "episodes.jsonl").write_text("".join(lines[:4]))
    return run_dir


def _other_space(tmp_path: Path) -> str:
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"decisions": [
        {"name": "cell_type", "choices": ["gru"]}, {"name": "hidden_units", "choices": [16]},
        {"name": "dropout_rate", "choices": [0.0]}, {"name": "bidirectional", "choices": [False]}]}))
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize(("args", "message"), [
    (lambda t: ["--dataset", "mnist"], "with --dataset mnist: the search was made with fashion-mnist"),
    (lambda t: ["--network", "cnn"], "with --network cnn: the search was made with rnn"),
    (lambda t: ["--seed", "5"], "with --seed 5: the search was made with 1"),
    (lambda t: ["--children-per-update", "4"], "with --children-per-update 4: the search was made with 2"),
    (lambda t: ["--train-limit", "100"], "with --train-limit 100: the search was made with 300"),
    (lambda t: ["--space", _other_space(t)], "that space differs from the one the search was made with"),
    (lambda t: ["--run-dir", str(t / "x")], "leave out --run-dir"),
    (lambda t: ["--episodes", "0"], "argument --episodes: must be >= 1, got 0"),
    (lambda t: ["--episodes", "3"], "with --episodes 3: 4 children are recorded already (--episodes 4 ends the "
                                    "search with them)"),
    (lambda t: ["--reward", "accuracy-size"], "with --reward accuracy-size: the search was made with accuracy"),
    (lambda t: ["--target-params", "5000"], "with --target-params 5000: the search was made without it"),
    (lambda t: ["--deterministic"], "with --deterministic True: the search was made with False"),
], ids=["dataset", "network", "seed", "m", "train-limit", "space", "run-dir", "episodes", "fewer-episodes",
        "reward", "target", "deterministic"])
def test_an_incompatible_resume_is_refused_and_changes_nothing(args, message: str, unfinished: Path,
                                                               tmp_path: Path, capsys) -> None:
    before = snapshot(unfinished)
    code, _, err = cli(["--resume", str(unfinished), *args(tmp_path)], capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert snapshot(unfinished) == before  # byte for byte


@pytest.mark.slow
def test_resuming_something_that_is_not_a_run(tmp_path: Path, capsys) -> None:
    code, _, err = cli(["--resume", str(tmp_path)], capsys)
    assert code == 2
    assert "it holds no config.json, so it is not a run directory" in err
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "best.pt").write_bytes(b"a model")
    code, _, err = cli(["--resume", str(tmp_path / "best.pt")], capsys)  # a file of the run, not the run
    assert code == 2
    assert err.endswith(f"cannot resume {tmp_path}/best.pt: it is a file; give a run directory (its folder "
                        f"{tmp_path} is one)\n")
    training = tmp_path / "retrained"  # what python -m nas_pattern.train writes: training.pt, then best.pt
    training.mkdir()
    (training / "training.pt").write_bytes(b"the state after an epoch")
    code, _, err = cli(["--resume", str(training)], capsys)
    assert code == 2 and err.endswith(f"not a run directory but a training's folder (training.pt): go on with it "
                                      f"with python -m nas_pattern.train --resume {training}\n")
    (training / "training.pt").unlink()
    (training / "best.pt").write_bytes(b"the model")
    code, _, err = cli(["--resume", str(training)], capsys)
    assert code == 2 and err.endswith(f"not a run directory but a trained model's folder (best.pt): python -m "
                                      f"nas_pattern.predict {training} tests it, python -m nas_pattern.train "
                                      f"{training}/best.pt trains it again\n")


@pytest.mark.slow
def test_a_damaged_record_is_refused_not_guessed_at(unfinished: Path, capsys) -> None:
    lines = (unfinished / "episodes.jsonl").read_text().splitlines(keepends=True)
    lines[1] = '{"episode": 2, "nonsense": true}\n'
    (unfinished / "episodes.jsonl").write_text("".join(lines))
    before = snapshot(unfinished)
    code, _, err = cli(["--resume", str(unfinished)], capsys)
    assert code == 2
    assert "episodes.jsonl line 2 is not an episode record" in err
    assert snapshot(unfinished) == before


@pytest.mark.slow
def test_a_run_directory_whose_checkpoint_would_run_code_is_refused_and_none_runs(unfinished: Path, tmp_path: Path,
                                                                                   capsys) -> None:
    # someone else's run directory: --resume reads its checkpoint weights-only
    torch.save({"episodes": 2, "agent": WouldRunCode(tmp_path / "ran")}, unfinished / "checkpoint.pt")
    before = snapshot(unfinished)
    code, _, err = cli(["--resume", str(unfinished)], capsys)
    assert code == 2
    assert err.endswith(f"{unfinished}/checkpoint.pt is unreadable (torch.load finds more in it than tensors and plain "
                        "values (Unsupported global: GLOBAL io.open was not an allowed global by default)); the run "
                        "directory is damaged\n") and err.count("\n") == 1, err
    assert snapshot(unfinished) == before
    assert not (tmp_path / "ran").exists()


@pytest.mark.slow
def test_a_resume_may_extend_the_budget(unfinished: Path, reference: Path) -> None:
    done = run("--resume", str(unfinished), "--episodes", "8")
    assert done.returncode == 0, done.stderr
    extended = episodes(unfinished)
    assert len(extended) == 8
    assert extended[:6] == episodes(reference)  # the same search, continued
    assert os.path.exists(unfinished / "summary.json")


# A weight-sharing search: 8 children scored with a supernet's weights, the best 2 trained from scratch.
SHARED = ["--weight-sharing", "--space", SMALL_CNN, "--episodes", "8", "--children-per-update", "2",
          "--train-limit", "300", "--shared-steps", "5", "--shared-val-images", "200", "--derive-top", "2",
          "--seed", "1"]


@pytest.mark.slow
def test_a_weight_sharing_search_resumes_after_sigkill_and_its_product_reloads(tmp_path: Path) -> None:
    from nas_pattern import load_model
    from nas_pattern.data import load_dataset

    reference = tmp_path / "reference"
    done = run(*SHARED, "--run-dir", str(reference))
    assert done.returncode == 0, done.stderr
    assert "Deriving the product: the best 8 architectures by shared-weight score" in done.stdout
    assert "the best 2 of them trained from scratch" in done.stdout
    assert "Children             8: 8 scored with the shared weights, 0 cached" in done.stdout  # not "trained"
    assert "Pareto front: no other child is both more accurate and smaller (by its shared-weight score)" \
        in done.stdout
    record = episodes(reference)
    assert len(record) == 8 and all(e["evaluation"] == "shared" for e in record)
    result = summary(reference)
    assert [e["evaluation"] for e in result["derived"]] == ["standalone", "standalone"]
    assert result["best"] in result["derived"]  # the product is one of the derived, trained from scratch
    rescored = result["rescored"]  # what chose them: the 8 scored again with the final shared weights
    assert len(rescored) == 8 and [r["episode"] for r in rescored[:2]] == [e["episode"] for e in result["derived"]]
    assert [r["val_accuracy"] for r in rescored] == sorted((r["val_accuracy"] for r in rescored), reverse=True)
    # the derivation's time apart from the search's, which leaves it out
    timed = json.loads((reference / "summary.json").read_text())
    assert timed["derive_seconds"] >= sum(e["seconds"] for e in timed["derived"]) > 0
    assert re.search(r"^Derivation time +[0-9]+ s   \(8 scored again with the final shared weights, 2 of them "
                     r"trained from scratch\)$", done.stdout, re.M)
    first = result["derived"][0]["episode"]
    assert re.search(rf"^ +{first} +[0-9.]+ +{rescored[0]['val_accuracy']:.4f} ", done.stdout, re.M)  # again
    assert result["config"]["search"]["sharing"]["derive"] == 2  # config.json and summary.json say how
    stored = json.loads((reference / "config.json").read_text())["config"]["search"]["sharing"]
    assert stored["steps"] == 5 and stored["val_images"] == 200

    model = load_model(reference)  # best.pt: the derived pick's weights, as tested
    fashion = load_dataset("fashion-mnist")
    assert model.card.episode == result["best"]["episode"]
    assert model.evaluate(fashion.val).accuracy == result["best_val_accuracy"]
    assert model.evaluate(fashion.test).accuracy == result["test_accuracy"]

    killed = tmp_path / "killed"
    start_and_stop(killed, after=5, delay=0.0, search=SHARED)  # inside the third round
    done = run("--resume", str(killed))
    assert done.returncode == 0, done.stderr
    assert episodes(killed) == episodes(reference)
    assert summary(killed) == summary(reference)


@pytest.mark.parametrize(("args", "message"), [
    (["--weight-sharing", "--executor", "ray"], "--weight-sharing trains one supernet in this process"),
    (["--shared-steps", "5"], "--shared-steps is for --weight-sharing"),
    (["--weight-sharing", "--shared-lr", "0"], "--shared-lr: must be > 0"),
])
def test_bad_weight_sharing_flags_get_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from nas_pattern.run import main

    try:
        status = main([*args, "--run-dir", str(tmp_path / "run")])
    except SystemExit as exit:  # a flag argparse refuses
        status = exit.code
    assert status == 2
    stderr = capsys.readouterr().err
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_ctrl_c_while_the_data_loads_is_one_line_and_leaves_no_search(tmp_path: Path, monkeypatch, capsys) -> None:
    from nas_pattern import session

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "load_dataset", interrupted)
    code, _, err = cli(["--run-dir", str(tmp_path / "run")], capsys)
    assert code == 130
    assert err == "\nnas-pattern: interrupted before the search began; nothing was recorded\n"  # no traceback
    assert not (tmp_path / "run").exists()
    monkeypatch.chdir(tmp_path)
    assert cli([], capsys)[0] == 130  # the default run directory, made for it, goes too
    assert not (tmp_path / "runs").exists()  # and runs/, made for it too


def test_sigterm_while_the_data_loads_is_ctrl_c_one_line_and_no_search(tmp_path: Path, capsys) -> None:
    """Before, only the search itself took SIGTERM as Ctrl-C: in the seconds before (the data
    loading, Ray starting), the default action ended the command without a word (exit 143)."""
    from nas_pattern import session

    with sigterm_in(session, "load_dataset"):
        code, _, err = cli(["--run-dir", str(tmp_path / "run")], capsys)
    assert code == 130
    assert err == "\nnas-pattern: interrupted before the search began; nothing was recorded\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_resume_stopped_while_the_data_loads_keeps_its_record_and_says_the_command_that_goes_on(
        tmp_path: Path, capsys) -> None:
    from nas_pattern import session

    run_dir = tmp_path / "run"
    assert cli(["--space", SMALL_CNN, "--episodes", "1", "--train-limit", "100", "--no-tensorboard", "--run-dir",
                str(run_dir)], capsys)[0] == 0
    before = files(run_dir)
    with sigterm_in(session, "load_dataset"):
        code, _, err = cli(["--resume", str(run_dir), "--episodes", "2"], capsys)
    assert code == 130
    assert err == (f"\nnas-pattern: interrupted before the search went on; its record in {run_dir} is kept. "
                   f"Continue with: python -m nas_pattern.run --resume {run_dir} --episodes 2\n")
    assert files(run_dir) == before


@pytest.mark.slow
def test_a_stop_after_the_search_has_finished_says_so_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """Ctrl-C or SIGTERM as the summary is printed, or as the search closes: one line, exit 130,
    not a KeyboardInterrupt traceback."""
    from nas_pattern import run
    from nas_pattern.session import Search

    flags = ["--space", SMALL_CNN, "--episodes", "1", "--train-limit", "100", "--no-tensorboard"]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def stopped(run_dir: Path) -> tuple[int, str, str]:
        try:
            return cli([*flags, "--run-dir", str(run_dir)], capsys)
        except KeyboardInterrupt:
            pytest.fail("the command ended in a KeyboardInterrupt traceback")

    with monkeypatch.context() as patch:
        patch.setattr(run, "_summary", interrupted)
        code, _, err = stopped(tmp_path / "printing")
    assert code == 130 and err == f"\nnas-pattern: interrupted; the search finished, recorded in {tmp_path}/printing\n"
    assert (tmp_path / "printing" / "summary.json").exists()
    close = Search.close
    monkeypatch.setattr(Search, "close", lambda self: (close(self), interrupted()))
    code, out, err = stopped(tmp_path / "closing")
    assert code == 130 and err == "\nnas-pattern: interrupted as the search closed\n"
    assert "Test accuracy" in out and (tmp_path / "closing" / "summary.json").exists()


def test_the_commands_a_search_prints_can_be_pasted_when_its_directory_has_a_space(tmp_path: Path, monkeypatch,
                                                                                  capsys) -> None:
    import shlex

    from nas_pattern.run_dir import RunDirectory

    record = RunDirectory.record

    def ctrl_c_after_the_first(self: RunDirectory, episode) -> None:
        record(self, episode)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDirectory, "record", ctrl_c_after_the_first)
    run_dir = tmp_path / "my runs" / "search 1"
    flags = ["--episodes", "2", "--children-per-update", "2", "--train-limit", "100", "--no-tensorboard"]
    code, _, err = cli([*flags, "--run-dir", str(run_dir)], capsys)
    assert code == 130
    resume = shlex.split(err.rsplit("Continue with: ", 1)[1])
    assert resume == ["python", "-m", "nas_pattern.run", "--resume", str(run_dir)], err
    monkeypatch.undo()
    code, out, err = cli([*flags, "--run-dir", str(run_dir)], capsys)
    assert code == 2 and shlex.split(err.split("resume it with ")[1])[:2] == ["--resume", str(run_dir)], err
    code, out, _ = cli(resume[3:], capsys)
    assert code == 0
    retrain = shlex.split(out.split("retrain it at full budget: ")[1].splitlines()[0])
    assert retrain == ["python", "-m", "nas_pattern.train", str(run_dir), "--epochs", "10"]
    classify = shlex.split(out.split("classify image files with it: ")[1].splitlines()[0])
    assert classify == ["python", "-m", "nas_pattern.predict", str(run_dir), "IMAGE..."]

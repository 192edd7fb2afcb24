"""python -m nas_pattern.train --resume: a training stopped after some epochs (Ctrl-C, SIGTERM, a full
disk) goes on from its training.pt to the model it would have given unstopped."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nas_pattern import load_model
from nas_pattern.files import hold_directory
from nas_pattern.model import MODEL, TRAINING
from nas_pattern.train import main as train

LAYERS = [{"filters": 8, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.25},
          {"filters": 16, "kernel_size": 3, "pool_size": 1, "dropout_rate": 0.5}]  # dropout: its masks go on too
BUDGET = ["--epochs", "3", "--train-limit", "320"]  # 10 steps of 32 images an epoch


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("retraining") / "arch.json"
    path.write_text(json.dumps({"layers": LAYERS}))
    return path


@pytest.fixture(scope="module")
def unstopped(source: Path) -> dict[str, torch.Tensor]:
    """The weights of the training that nothing stops."""
    out = source.parent / "unstopped"
    assert train([str(source), *BUDGET, "--out", str(out)]) == 0
    return torch.load(out / MODEL, weights_only=True)["state_dict"]


def stop_at_step(monkeypatch, step: int) -> None:
    """Ctrl-C at training step `step` (1-based; the 15th is in the second epoch)."""
    from nas_pattern import trainer

    steps = iter(range(1, 10**6))

    def check(deadline: float | None) -> None:  # called after each step, and after each evaluation pass
        if not torch.is_inference_mode_enabled() and next(steps) == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_check_deadline", check)


def same_weights(out: Path, unstopped: dict[str, torch.Tensor]) -> bool:
    weights = torch.load(out / MODEL, weights_only=True)["state_dict"]
    return weights.keys() == unstopped.keys() and all(torch.equal(weights[k], unstopped[k]) for k in weights)


def test_a_training_stopped_in_its_second_epoch_goes_on_with_resume_to_the_same_model(
        source: Path, unstopped: dict[str, torch.Tensor], tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the default folder: runs/train-<time>
    with pytest.MonkeyPatch.context() as stop:
        stop_at_step(stop, 15)
        assert train([str(source), *BUDGET]) == 130
    (out,) = Path("runs").iterdir()  # kept, with the first epoch: it was removed, with everything
    assert sorted(path.name for path in out.iterdir()) == ["tensorboard", TRAINING]  # and epoch 1's points
    captured = capsys.readouterr()
    assert "  epoch 1/3: training loss" in captured.out and "epoch 2/3" not in captured.out
    assert captured.err == (f"\npython -m nas_pattern.train: interrupted; no model was written; epoch 1 of 3 is kept "
                            f"in {out / TRAINING}: python -m nas_pattern.train --resume {out} goes on from there\n")
    with pytest.raises(FileNotFoundError) as missing:
        load_model(out)
    assert str(missing.value) == (f"{out} holds no best.pt yet: its training has not finished (training.pt); python -m "
                                  f"nas_pattern.train --resume {out} goes on with it")
    with pytest.raises(ValueError, match=r"training\.pt is an unfinished training's checkpoint, for python -m"):
        load_model(out / TRAINING)

    (out / f"{TRAINING}.tmp").write_bytes(b"half a checkpoint")  # what a kill -9 in the middle of its write leaves
    assert train(["--resume", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"Going on with {out / TRAINING} after epoch 1: training CNN conv 3x8 pool2 drop0.25 | ")
    assert "epoch 1/3" not in printed and "epoch 2/3" in printed and "epoch 3/3" in printed
    # each epoch's validation accuracy, the learning curve: the last is the model's
    last = re.search(r"  epoch 3/3: training loss \d\.\d{4}, validation accuracy (\d\.\d{4})\n", printed)
    assert last is not None and f"Validation accuracy  {last[1]}\n" in printed, printed
    assert same_weights(out, unstopped)  # bit for bit: the weights, Adam's moments, the batch order, the dropout masks
    assert sorted(path.name for path in out.iterdir()) == ["best.onnx", MODEL, "tensorboard"]  # the checkpoint went
    # the learning curve in TensorBoard, each epoch once (epoch 1 before the stop, 2 and 3 after it)
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
    curve = events.Scalars("validation/accuracy")
    assert [e.step for e in curve] == [1, 2, 3] and f"{curve[-1].value:.4f}" == last[1]
    card = load_model(out).card
    assert card.trained == "nas_pattern.train: 3 epoch(s) on 320 images (train), seed 0"


def test_a_full_disk_stops_the_training_at_the_epoch_it_cannot_keep_and_resume_goes_on_from_the_one_before(
        source: Path, unstopped: dict[str, torch.Tensor], tmp_path: Path, monkeypatch, capsys) -> None:
    fsyncs = iter(range(1, 10**6))
    real_fsync = os.fsync

    def filling(descriptor: int) -> None:  # epoch 1's checkpoint (a file and its folder) fits; then the disk is full
        if next(fsyncs) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", filling)
    out = tmp_path / "out"
    assert train([str(source), *BUDGET, "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"python -m nas_pattern.train: error: cannot write {out / TRAINING}: No space left on device; no model was "
        f"written; epoch 1 of 3 is kept in {out / TRAINING}: python -m nas_pattern.train --resume {out} goes on from "
        "there\n")
    assert sorted(path.name for path in out.iterdir()) == ["tensorboard", TRAINING]  # epoch 1's, whole; epoch 2's
    # half copy is gone
    monkeypatch.undo()  # room again
    assert train(["--resume", str(out)]) == 0
    assert same_weights(out, unstopped)


def test_a_model_the_disk_could_not_take_is_written_by_resume_without_training_again(
        source: Path, unstopped: dict[str, torch.Tensor], tmp_path: Path, monkeypatch, capsys) -> None:
    from nas_pattern import model as model_module

    def full(*args, **kwargs) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model_module, "save_model", full)
    out = tmp_path / "out"
    assert train([str(source), *BUDGET, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "Test accuracy" in captured.out
    assert captured.err == (f"python -m nas_pattern.train: error: cannot write the model to {out}: No space left on "
                            f"device; epochs 1-3 of 3 are kept in {out / TRAINING}: python -m nas_pattern.train "
                            f"--resume {out} goes on from there\n")
    monkeypatch.undo()
    assert train(["--resume", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"Going on with {out / TRAINING} after epoch 3: ") and "epoch 3/3" not in printed
    assert same_weights(out, unstopped)


@pytest.fixture(scope="module")
def stopped(source: Path) -> Path:
    """A folder whose training stopped in its second epoch (refusals leave it as it is)."""
    out = source.parent / "stopped"
    with pytest.MonkeyPatch.context() as monkeypatch:
        stop_at_step(monkeypatch, 15)
        assert train([str(source), *BUDGET, "--out", str(out)]) == 130
    return out


def test_resume_refuses_what_it_cannot_go_on_with_in_one_line_and_changes_nothing(
        source: Path, stopped: Path, tmp_path: Path, capsys) -> None:
    checkpoint = (stopped / TRAINING).read_bytes()
    finished, empty, foreign, garbage, search = (tmp_path / name for name in ("finished", "empty", "foreign",
                                                                               "garbage", "search"))
    for folder in (finished, empty, foreign, garbage, search):
        folder.mkdir()
    (search / "config.json").write_text('{"config": {}, "space": {}}')  # a search's run directory
    (finished / MODEL).write_bytes(b"a model trained before")
    torch.save({"format": "something else"}, foreign / TRAINING)
    (garbage / TRAINING).write_text("not a checkpoint")
    cases = [
        (["--resume", str(stopped), "--epochs", "5"], "--resume goes on with the settings its training was started "
                                                      "with: --epochs cannot be given with it (--data-dir can"),
        ([str(source), "--resume", str(stopped)], "SOURCE cannot be given with it"),
        (["--resume", str(stopped), "--with-validation"], "--with-validation cannot be given with it"),
        (["--resume", str(stopped), "--seed", "0"], "--seed cannot be given with it"),  # the default, given
        ([], "give SOURCE (a run directory, a model file or an architecture file), or --resume DIR"),
        (["--resume", str(finished)], f"{finished} holds best.pt: its training has finished, and there is nothing "
                                      "to resume"),
        (["--resume", str(empty)], f"{empty} holds no training.pt to go on from"),
        (["--resume", str(search)], f"{search} is a search's run directory, not a training's folder: go on with the "
                                    f"search with python -m nas_pattern.run --resume {search}, or retrain its best "
                                    f"with python -m nas_pattern.train {search} --epochs N"),
        (["--resume", str(tmp_path / "nowhere")], f"--resume {tmp_path / 'nowhere'}: there is no such folder"),
        (["--resume", str(garbage)], f"{garbage / TRAINING} is not a training checkpoint: torch.save writes a zip "
                                     "archive"),
        (["--resume", str(foreign)], f"{foreign / TRAINING} is not a nas-pattern training checkpoint"),
        ([str(source), "--out", str(stopped)], f"--out {stopped} holds training.pt, a training that was stopped: go "
                                               f"on with it with --resume {stopped}"),
    ]
    for argv, message in cases:
        try:
            status = train(argv)
        except SystemExit as exit_:  # the parser's own refusals
            status = int(exit_.code or 0)
        captured = capsys.readouterr()
        assert status == 2, argv
        assert message in captured.err and captured.err.count("\n") == 1, (argv, captured.err)
        assert "raining" not in captured.out, argv  # refused before it trained
    assert (stopped / TRAINING).read_bytes() == checkpoint
    assert sorted(path.name for path in stopped.iterdir()) == ["tensorboard", TRAINING]
    assert (finished / MODEL).read_bytes() == b"a model trained before"


def test_a_training_going_on_is_not_resumed_twice_at_once(stopped: Path, capsys) -> None:
    held = hold_directory(stopped)  # as a --resume still running holds it
    try:
        assert train(["--resume", str(stopped)]) == 2
    finally:
        if held is not None:
            os.close(held)
    assert capsys.readouterr().err == (f"python -m nas_pattern.train: error: {stopped} is in use by another training "
                                       f"that is still running; let it end, or stop it and go on with --resume "
                                       f"{stopped}\n")
    assert sorted(path.name for path in stopped.iterdir()) == ["tensorboard", TRAINING]


def test_the_help_says_how_a_stopped_training_goes_on_and_nothing_meant_for_developers(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        train(["--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    assert "--resume DIR" in shown and "goes on from there with --resume" in shown
    assert "One piece" not in shown  # the module docstring's note on how its code is kept


def test_a_checkpoint_whose_weights_are_not_of_its_architecture_is_refused_in_one_line(
        stopped: Path, tmp_path: Path, capsys) -> None:
    payload = torch.load(stopped / TRAINING, weights_only=True)
    payload["card"]["architecture"]["layers"][1]["filters"] = 32  # its weights are of a 16-filter layer
    (tmp_path / "other").mkdir()
    torch.save(payload, tmp_path / "other" / TRAINING)
    assert train(["--resume", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"python -m nas_pattern.train: error: {tmp_path / 'other' / TRAINING} is damaged: its state "
                          "does not fit this module: RuntimeError: Error(s) in loading state_dict"), err
    assert err.count("\n") == 1
    assert [path.name for path in (tmp_path / "other").iterdir()] == [TRAINING]  # kept as it was


def test_the_same_training_started_anew_names_the_stopped_one_it_could_go_on_with(
        source: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.MonkeyPatch.context() as stop:
        stop_at_step(stop, 15)
        assert train([str(source), *BUDGET]) == 130
    (first,) = Path("runs").iterdir()
    capsys.readouterr()
    for seed, named in (("0", True), ("1", False)):  # another seed is another training
        with pytest.MonkeyPatch.context() as stop:
            stop_at_step(stop, 1)  # in its first epoch: it keeps nothing, and its folder goes
            assert train([str(source), *BUDGET, "--seed", seed]) == 130
        shown = capsys.readouterr().out
        note = (f"Note: {first} holds this same training, stopped after epoch 1 of 3: python -m nas_pattern.train "
                f"--resume {first} goes on with it; this one starts anew in runs/train-")
        assert (note in shown) is named, shown
    assert list(Path("runs").iterdir()) == [first]


def test_no_tensorboard_writes_no_event_files_and_may_be_given_to_a_resume(
        source: Path, stopped: Path, tmp_path: Path) -> None:
    import shutil

    assert train([str(source), "--epochs", "1", "--train-limit", "64", "--no-tensorboard", "--out",
                  str(tmp_path / "quiet")]) == 0
    assert not (tmp_path / "quiet" / "tensorboard").exists()
    copy = tmp_path / "copy"
    shutil.copytree(stopped, copy)
    written = sorted(path.name for path in (copy / "tensorboard").iterdir())
    assert train(["--resume", str(copy), "--no-tensorboard"]) == 0
    assert sorted(path.name for path in (copy / "tensorboard").iterdir()) == written  # epoch 1's, and no more


def test_event_files_that_cannot_be_written_are_one_warning_and_the_training_goes_on(
        source: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "tensorboard").write_text("a file where the event files' folder would go")
    assert train([str(source), "--epochs", "2", "--train-limit", "64", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"nas-pattern: warning: TensorBoard event files cannot be written in {out / 'tensorboard'} (")
    assert err.endswith("); the training goes on without them\n") and err.count("\n") == 1, err
    assert load_model(out).card.trained == "nas_pattern.train: 2 epoch(s) on 64 images (train), seed 0"


def test_the_bench_gives_each_epoch_s_extras_as_a_share_of_an_epoch(capsys) -> None:
    from nas_pattern.bench.cli import main as bench

    assert bench(["retraining", "--train-limit", "64", "--rounds", "1", "--device", "cpu"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  conv ")]
    assert [row[:2] for row in rows] == [["conv", "5x32"], ["conv", "5x8"]], rows
    for row in rows:  # ..., epoch s, all s, checkpoint ms, MB, share, validation s, share
        epoch, full, save, size, share, check, check_share = row[-7:]
        assert float(full) > float(epoch) > 0 and float(save) > 0 and float(size) > 0 and float(check) > 0
        assert share.endswith("%") and check_share.endswith("%")
        assert abs(float(share[:-1]) - 100 * float(save) / 1000 / float(full)) < 0.01 + 0.01 * float(share[:-1])
    assert rows[1][-8] == "506,650"  # make run's best: most of its weights are the classifier's

"""The search's product: best.pt, load_model, best.onnx, python -m nas_pattern.train and .predict."""

from __future__ import annotations

import argparse
import errno
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import SMALL_CNN, architecture_file, full_disk, sigterm_in
from nas_pattern import CNN, CNN_SPACE, Dataset, FoundModel, load_model
from nas_pattern.data import FASHION_MNIST_DIR, PIXEL_STATS, Split, class_names, load_test_split, read_idx
from nas_pattern.model import FORMAT_VERSION, MODEL, ONNX_INPUT, ONNX_MODEL, ONNX_TOLERANCE, ModelCard, save_model
from nas_pattern.predict import by_class
from nas_pattern.predict import main as predict

SEARCH = ["--space", SMALL_CNN, "--episodes", "4", "--children-per-update", "2", "--train-limit", "300", "--seed", "2"]


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("model") / "run"
    done = run("nas_pattern.run", *SEARCH, "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert f"{run_dir / MODEL} (search: 1 epoch(s) on 300 training images" in done.stdout
    assert f"python -m nas_pattern.train {run_dir} --epochs 10" in done.stdout  # how to retrain it
    return run_dir


def untrained_model(tmp_path: Path, dataset: str, shape: tuple[int, int, int]) -> FoundModel:
    """A CNN of the first choices for `dataset`'s images of `shape`, saved untrained and loaded back."""
    split = Split(torch.zeros(8, *shape), torch.zeros(8, dtype=torch.long), "train")
    data = Dataset(dataset, split, split, split, 10)
    network = CNN(CNN_SPACE.decode([0] * len(CNN_SPACE.num_choices)), data.input_shape, data.num_classes)
    network.build()
    assert network.module is not None
    card = ModelCard.of(CNN, network.architecture, CNN_SPACE, data, network.train_config, episode=1, trained="none",
                        val_metrics=None, test_metrics=None)
    return load_model(save_model(tmp_path / MODEL, card, network.module.state_dict()))


def test_predict_takes_colour_images_channels_first_or_last(tmp_path: Path) -> None:
    # CIFAR-10's shape: torchvision's CIFAR10.data, numpy and PIL hold images channels last (N, 32, 32, 3)
    model = untrained_model(tmp_path, "cifar10", (3, 32, 32))
    last = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)
    classes, probabilities = model.predict(last)
    assert model.class_names[:3] == ("airplane", "automobile", "bird") and len(model.class_names) == 10
    first = model.predict(last.transpose(0, 3, 1, 2))  # (N, 3, 32, 32)
    assert torch.equal(first[0], classes) and torch.equal(first[1], probabilities)
    with pytest.raises(ValueError, match=r"images must have the shape \(N, 3, 32, 32\) or \(N, 32, 32, 3\), "
                                         r"got \(5, 32, 32\)$"):
        model.predict(last[..., 0])


def test_each_class_is_named_with_its_accuracy_and_what_it_is_most_often_taken_for() -> None:
    confusion = torch.tensor([[8, 2, 0], [0, 5, 0], [0, 0, 0]])  # row: the label, column: the class given
    assert by_class(confusion, ("T-shirt/top", "Trouser", "Bag")).splitlines() == [
        "  by class      accuracy  most often taken for",
        "    T-shirt/top    0.800  Trouser (20.0%)",
        "    Trouser        1.000  nothing else",
        "    Bag            no test images",
    ]
    tied = torch.tensor([[6, 2, 2], [0, 1, 0], [0, 0, 1]])  # two classes as often: the first of them
    assert by_class(tied, ("a", "b", "c")).splitlines()[1] == "    a           0.600  b (20.0%)"


def test_a_class_is_named_as_its_dataset_names_it() -> None:
    assert class_names("fashion-mnist", 10)[9] == "Ankle boot" and class_names("fashion-mnist", 10)[0] == "T-shirt/top"
    assert class_names("mnist", 10) == tuple("0123456789")
    assert class_names("cifar10", 10)[9] == "truck"
    assert class_names("blank", 3) == ("0", "1", "2")  # a dataset of the user's own: the labels' numbers


@pytest.mark.slow
def test_a_search_writes_a_model_that_reproduces_its_validation_accuracy(searched: Path, fashion: Dataset) -> None:
    summary = json.loads((searched / "summary.json").read_text())
    model = load_model(searched)
    assert model.card.episode == summary["best"]["episode"]
    assert model.architecture.to_json() == summary["best"]["architecture"]
    assert not model.module.training  # ready to use: eval mode
    assert model.evaluate(fashion.val).accuracy == summary["best_val_accuracy"]  # exactly, on the CPU
    assert model.evaluate(fashion.test).accuracy == summary["test_accuracy"]
    assert model.card.test_metrics == summary["test_metrics"]


@pytest.mark.slow
def test_predict_takes_raw_images_and_normalises_them_as_training_did(searched: Path, fashion: Dataset) -> None:
    model = load_model(searched / MODEL)
    # The dataset's raw pixels: undo the split's normalisation (mean 0.2860, std 0.3530 of [0, 1]).
    raw = np.rint((fashion.test.x[:500, 0].numpy() * 0.3530 + 0.2860) * 255).astype(np.uint8)  # (N, 28, 28)
    classes, probabilities = model.predict(raw)
    with torch.inference_mode():
        expected = model.module(fashion.test.x[:500]).argmax(1)
    assert torch.equal(classes, expected)
    assert probabilities.shape == (500, 10)
    assert torch.allclose(probabilities.sum(1), torch.ones(500), atol=1e-5)
    in_passes = model.predict(raw, batch_size=64)  # passes of 64, the last one of 52
    assert torch.equal(in_passes[0], classes) and torch.allclose(in_passes[1], probabilities, atol=1e-6)
    assert torch.equal(model.predict(raw[..., None])[0], classes)  # channels last, as numpy and PIL hold images
    with pytest.raises(ValueError, match=r"images must have the shape \(N, 1, 28, 28\), \(N, 28, 28, 1\) or "
                                         r"\(N, 28, 28\), got \(2, 32, 32\)$"):
        model.predict(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match=r"^images must be raw pixel values 0-255, .* got values from -0\.81"):
        model.predict(fashion.test.x[:5].numpy())  # normalised already: the predictions would be wrong
    with pytest.raises(ValueError, match=r"^images must be raw .* look scaled to \[0, 1\] already \(values "
                                         r"from 0 to 1, not whole\): multiply by 255$"):
        model.predict(raw / 255)  # as torchvision's ToTensor gives them: every class would be a guess
    dark = np.minimum(raw, 1)  # whole values of at most 1: raw pixels of a (very) dark image
    assert torch.equal(model.predict(dark)[0], model.predict(dark.astype(np.float32))[0])
    with pytest.raises(ValueError, match=r"^images must be an array of pixel values 0-255: "):
        model.predict("the images")
    with pytest.raises(ValueError, match=r"^batch_size must be >= 1, got 0$"):
        model.predict(raw, batch_size=0)


@pytest.mark.slow
def test_the_onnx_model_takes_raw_pixels_and_gives_pytorchs_logits(searched: Path) -> None:
    """best.onnx took the normalised images the network trains on, with nothing in it or in the
    README to say so: fed the pixels of an image, as anyone running it outside nas-pattern would,
    it answered, wrongly. It now takes the pixels (ONNX_INPUT), as predict() does, and its metadata
    says so."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(searched / ONNX_MODEL), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [(ONNX_INPUT, ["batch", 1, 28, 28])]
    described = session.get_modelmeta().custom_metadata_map
    assert described["nas_pattern.input"].startswith(f"{ONNX_INPUT}: float32 (N, 1, 28, 28), raw pixel values 0-255")
    model = load_model(searched)
    assert described["nas_pattern.architecture"] == model.architecture.describe()
    assert json.loads(described["nas_pattern.classes"]) == list(model.class_names) == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    pixels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:200]  # (200, 28, 28) as the file holds them
    (logits,) = session.run(["logits"], {ONNX_INPUT: pixels[:, None].astype(np.float32)})
    with torch.inference_mode():
        expected = model.module(model.normalise(pixels)).numpy()  # what predict() computes
    assert np.abs(logits - expected).max() <= ONNX_TOLERANCE
    assert np.array_equal(logits.argmax(1), model.predict(pixels)[0].numpy())


@pytest.mark.slow
def test_a_network_onnx_cannot_export_is_skipped_with_a_reason(searched: Path, monkeypatch, capsys) -> None:
    from nas_pattern import model as model_module

    def refuse(*args, **kwargs):
        raise RuntimeError("an operator ONNX does not have")

    monkeypatch.setattr(model_module.torch.onnx, "export", refuse)
    model = load_model(searched)
    target = searched / "refused.onnx"
    with pytest.raises(ValueError, match=r"torch\.onnx cannot export .*an operator ONNX does not have"):
        model_module.export_onnx(model, target, torch.zeros(2, 1, 28, 28))
    assert not target.exists()


@pytest.mark.slow
def test_train_improves_on_the_search_and_writes_a_loadable_model(searched: Path, tmp_path: Path) -> None:
    out = tmp_path / "retrained"
    done = run("nas_pattern.train", str(searched), "--epochs", "2", "--train-limit", "3000", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "epoch 2/2: training loss" in done.stdout  # progress, a line per epoch in a log
    assert done.stdout.endswith(f"Classify images      python -m nas_pattern.predict {out} IMAGE...\n")
    test_accuracy = float(re.search(r"Test accuracy\s+([\d.]+)", done.stdout)[1])  # type: ignore[index]
    searched_accuracy = json.loads((searched / "summary.json").read_text())["test_accuracy"]
    assert test_accuracy > searched_accuracy + 0.05, (test_accuracy, searched_accuracy)
    model = load_model(out)
    assert model.card.test_metrics["accuracy"] == pytest.approx(test_accuracy, abs=1e-4)
    assert model.architecture == load_model(searched).architecture
    assert (out / ONNX_MODEL).exists()


@pytest.mark.slow
def test_train_takes_a_model_file_and_says_what_a_wrong_file_is(searched: Path, tmp_path: Path, capsys) -> None:
    from nas_pattern.train import main as train

    out = tmp_path / "again"
    assert train([str(searched / MODEL), "--epochs", "1", "--train-limit", "300", "--out", str(out)]) == 0
    found, again = load_model(searched), load_model(out)  # the same architecture, trained again from scratch
    assert again.architecture == found.architecture and again.card.episode == found.card.episode
    assert again.card.trained.startswith("nas_pattern.train: 1 epoch(s) on 300 images")
    capsys.readouterr()
    space = tmp_path / "space.json"
    space.write_text(json.dumps(json.loads((searched / "config.json").read_text())["space"]))
    for argv, message in [
        ([str(searched / MODEL), "--space", str(space)], f"--space is for an architecture file; {searched / MODEL} "
                                                         "has its own"),
        ([str(searched), "--network", "rnn"], f"--network is for an architecture file; {searched} has its own"),
        ([str(searched / "episodes.jsonl")], f"{searched / 'episodes.jsonl'} is not an architecture file, but a "
                                             f"record of episodes, a line each: give the run directory {searched}, "
                                             "with --episode N for one"),
        ([str(space)], f"{space} is a search space, not an architecture: give it with --space, and SOURCE an "
                       'architecture file ({"layers": [...]})'),
        ([str(searched / "checkpoint.pt")], f"{searched / 'checkpoint.pt'} is the search's checkpoint, for python -m "
                                            "nas_pattern.run --resume"),
    ]:
        assert train([*argv, "--out", str(tmp_path / "refused")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "refused").exists()


@pytest.mark.slow
def test_a_search_on_a_folder_of_one_s_own_images_gives_a_model_that_knows_their_classes(tmp_path: Path,
                                                                                        capsys) -> None:
    """--dataset folder: a folder of image files per class, searched, retrained and tested like the
    built-in datasets; the model names the classes by their folders, in Python, in best.onnx and
    in predict's lines, and reads image files as the training images were read."""
    import onnx
    from PIL import Image

    from nas_pattern.run import main as search
    from nas_pattern.train import main as train

    root, names = tmp_path / "photos", ("ankle boot", "bag", "trouser")
    images, labels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte"), read_idx(FASHION_MNIST_DIR,
                                                                                    "t10k-labels-idx1-ubyte")
    for split, chosen in (("train", slice(0, 60)), ("test", slice(60, 80))):
        for name, label in zip(names, (9, 8, 1), strict=True):
            (root / split / name).mkdir(parents=True)
            for i in np.flatnonzero(labels == label)[chosen]:  # as RGB photos of twice the size
                Image.fromarray(images[i]).convert("RGB").resize((56, 56)).save(root / split / name / f"{i}.jpg")
    run_dir = tmp_path / "run"
    assert search(["--dataset", "folder", "--data-dir", str(root), "--episodes", "2", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"on the 3 classes of {root}, as 3x56x56 (144 train / 36 validation / 60 test images)" in out, out
    model = load_model(run_dir)
    assert model.class_names == names and model.card.dataset == "folder" and model.card.input_shape == (3, 56, 56)
    metadata = {p.key: p.value for p in onnx.load(str(run_dir / ONNX_MODEL)).metadata_props}
    assert json.loads(metadata["nas_pattern.classes"]) == list(names)
    assert predict([str(run_dir)]) == 0  # tested where its images were: its card says where
    report = capsys.readouterr().out
    assert "on 60 folder test images" in report and all(f"\n    {name} " in report for name in names), report
    shoe = root / "test" / "ankle boot" / sorted(p.name for p in (root / "test" / "ankle boot").iterdir())[0]
    assert predict([str(run_dir), str(shoe)]) == 0
    assert f"{shoe}  " in capsys.readouterr().out
    assert model.read_images(shoe).notes == ("",)  # the input's size already: taken as the training images were
    assert train([str(run_dir), "--epochs", "1", "--out", str(tmp_path / "retrained")]) == 0  # its data from the run
    assert load_model(tmp_path / "retrained").class_names == names
    moved = root.rename(tmp_path / "moved")
    assert predict([str(tmp_path / "retrained")]) == 2  # not there now: where is it?
    assert "dataset 'folder' needs --data-dir: " in capsys.readouterr().err
    assert predict([str(tmp_path / "retrained"), "--data-dir", str(moved)]) == 0
    assert "on 60 folder test images" in capsys.readouterr().out


@pytest.mark.slow
def test_a_search_on_numpy_arrays_in_a_file_is_recorded_resumed_retrained_and_tested_from_it(tmp_path: Path,
                                                                                           capsys) -> None:
    """--dataset npz: images held as numpy arrays (numpy.savez) searched from the command line. A
    search on Dataset.from_images's arrays could be neither resumed nor its model retrained or
    tested by the command line: the arrays had no file. The model found, of a file without
    class_names, names its classes by their numbers (the header said "the 0 classes"), and is
    retrained and tested from the file where it still is, with --data-dir where it has moved."""
    from nas_pattern.run import main as search
    from nas_pattern.train import main as train

    images, labels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte"), read_idx(FASHION_MNIST_DIR,
                                                                                    "t10k-labels-idx1-ubyte")
    chosen = np.flatnonzero(np.isin(labels, (1, 8, 9)))  # trouser, bag, ankle boot: labels 0, 1, 2 here
    labels = np.searchsorted([1, 8, 9], labels)
    arrays = tmp_path / "shoes.npz"
    np.savez(arrays, train_images=images[chosen[:240]], train_labels=labels[chosen[:240]],
             test_images=images[chosen[240:300]], test_labels=labels[chosen[240:300]])  # no class_names
    run_dir, names = tmp_path / "run", ("0", "1", "2")  # the classes' numbers name them
    assert search(["--dataset", "npz", "--data-dir", str(arrays), "--episodes", "2", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"on the 3 classes of {arrays}, as 1x28x28 (192 train / 48 validation / 60 test images)" in out, out
    model = load_model(run_dir)
    assert model.class_names == names and model.card.dataset == "npz" and model.card.data_dir == str(arrays)
    assert predict([str(run_dir)]) == 0  # tested where its arrays are: its card says where
    report = capsys.readouterr().out
    tested = re.search(r"test accuracy  (\S+) on 60 npz test images", report)
    assert tested and float(tested[1]) == pytest.approx(model.card.test_metrics["accuracy"], abs=1e-4), report
    assert all(f"\n    {name} " in report for name in names), report
    assert train([str(run_dir / MODEL), "--epochs", "1", "--out", str(tmp_path / "retrained")]) == 0  # from the card
    assert "Test accuracy" in capsys.readouterr().out
    moved = arrays.rename(tmp_path / "moved.npz")
    assert predict([str(tmp_path / "retrained")]) == 2  # not there now: where is it?
    assert "dataset 'npz' needs --data-dir: pass --data-dir with an .npz file" in capsys.readouterr().err
    assert predict([str(tmp_path / "retrained"), "--data-dir", str(moved)]) == 0
    assert "on 60 npz test images" in capsys.readouterr().out
    assert search(["--resume", str(run_dir), "--episodes", "3", "--data-dir", str(moved)]) == 0
    assert f"Resuming {run_dir}: 2 of 3 children already recorded" in capsys.readouterr().out
    assert len((run_dir / "episodes.jsonl").read_text().splitlines()) == 3


def test_train_on_a_full_disk_says_so_in_one_line_and_leaves_no_half_model(tmp_path: Path, monkeypatch,
                                                                            capsys) -> None:
    import os

    from nas_pattern.train import main as train

    source = architecture_file(tmp_path / "arch.json")
    monkeypatch.setattr(os, "fsync", full_disk)  # each file is written; the disk cannot keep it
    out = tmp_path / "out"
    assert train([str(source), "--epochs", "3", "--train-limit", "100", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    # stopped at the first epoch's checkpoint: the model, at the end, could not have been kept either
    assert "epoch 1/3" not in captured.out and "Test accuracy" not in captured.out  # an epoch shown is one kept
    assert captured.err == f"python -m nas_pattern.train: error: cannot write {out / 'training.pt'}: No space left " \
                           "on device; no model was written\n"
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_train_takes_an_architecture_file(tmp_path: Path) -> None:
    source = architecture_file(tmp_path / "arch.json", encoding="utf-8-sig")  # with a BOM, as Notepad saves
    done = run("nas_pattern.train", str(source), "--epochs", "1", "--train-limit", "500", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert load_model(tmp_path / "o").architecture.describe() == "conv 3x8 pool2 drop0.0 | conv 3x8 pool2 drop0.0"


def test_train_onto_a_disk_with_room_for_best_pt_only_keeps_it_and_says_best_onnx_was_not_written(
        tmp_path: Path, monkeypatch, capsys) -> None:
    from nas_pattern import model as model_module
    from nas_pattern.train import main as train

    def full(path: Path, write) -> None:  # best.onnx, the last file written: the disk has no room left for it
        raise OSError(errno.ENOSPC, "No space left on device")

    source = architecture_file(tmp_path / "arch.json")
    monkeypatch.setattr(model_module, "write_atomically", full)
    # it was exit 1, "cannot write the model", with best.pt written and whole
    assert train([str(source), "--train-limit", "100", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "ONNX                 not written: the file system refused it (No space left on device)\n" in out
    assert load_model(tmp_path / "out").architecture.describe() == "conv 3x8 pool2 drop0.0 | conv 3x8 pool2 drop0.0"
    assert not (tmp_path / "out" / ONNX_MODEL).exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["/nonexistent/run"], "/nonexistent/run does not exist (SOURCE is a run directory, a model file or an "
                           "architecture file)"),
    (["/"], "cannot retrain from /: it holds no config.json, so it is not a run directory"),
    (["--epochs", "0", "x"], "argument --epochs: must be >= 1, got 0"),
    (["x", "--train-limit", "-5"], "argument --train-limit: must be >= 1, got -5"),
])
def test_train_refuses_bad_input_in_one_line(argv: list[str], message: str, capsys) -> None:
    from nas_pattern.train import main as train

    try:
        status = train(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0


def test_train_names_an_architecture_it_cannot_build(tmp_path: Path, capsys) -> None:
    from nas_pattern.train import main as train

    layer = {"filters": 8, "kernel_size": 3, "pool_size": 2, "dropout_rate": 0.0}
    space = tmp_path / "deep.json"
    space.write_text(json.dumps({"max_layers": 5, "decisions": [
        {"name": name, "choices": [value]} for name, value in layer.items()]}))
    source = tmp_path / "deep-arch.json"
    source.write_text(json.dumps({"layers": [layer] * 5}))  # 28 -> 14 -> 7 -> 3 -> 1 -> 0
    assert train([str(source), "--space", str(space), "--out", str(tmp_path / "o")]) == 2
    described = " | ".join(["filters=8 kernel_size=3 pool_size=2 dropout_rate=0.0"] * 5)
    assert capsys.readouterr().err == (f"python -m nas_pattern.train: error: {described}: cannot build: layer 5 "
                                       "pools by 2 and shrinks the feature map below 1x1 (input 28x28)\n")
    assert not (tmp_path / "o").exists()  # refused before anything is made


@pytest.mark.parametrize(("device", "message"), [
    ("tpu", "unknown device 'tpu'; expected cpu or cuda"),
    pytest.param("cuda", "device cuda was asked for, but torch sees no CUDA GPU; use the cpu",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there to load on"))])
def test_a_device_that_cannot_be_had_is_refused_before_the_file_is_blamed(device: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_model("/nonexistent/run", device=device)  # before the file: it is not the file's fault


@pytest.mark.parametrize("count", ["0", "-5", "many"])
def test_predict_refuses_a_count_of_images_that_is_no_count(count: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        predict(["/nonexistent/run", "--images", count])  # refused before the model is looked for
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --images: " in err and count in err and err.count("\n") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--invert"], "--invert is for IMAGE files; the dataset's test images are used as they are"),
    (["--csv"], "--csv is for IMAGE files; the dataset's test images are used as they are"),
    (["shoe.png", "--images", "5"], "--images is for testing the model on the dataset's test images; with IMAGE "
                                    "files it has nothing to do"),
    (["--data-dir", "/tmp", "shoe.png"], "--data-dir is for testing the model on the dataset's test images")])
def test_predict_refuses_flags_that_do_not_go_with_what_it_does(args: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        predict(["/nonexistent/run", *args])  # refused before the model is looked for
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and err.count("\n") == 1, err


def test_predict_writes_csv_of_image_files_for_a_script(tmp_path: Path, capsys) -> None:
    """The lines of `predict DIR IMAGE...` are for reading; --csv is for a spreadsheet or a script."""
    import csv
    import io

    from PIL import Image

    model = untrained_model(tmp_path, "fashion-mnist", (1, 28, 28))
    pixels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:2]
    Image.fromarray(pixels[0]).save(tmp_path / "a, with a comma.png")  # a name CSV must quote
    Image.fromarray(255 - pixels[1]).resize((56, 56)).save(tmp_path / "b.png")
    assert predict([str(model.path), str(tmp_path), "--csv", "--invert"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    images = model.read_images(tmp_path, invert=True)
    classes, probabilities = model.predict(images.pixels)
    assert [row["file"] for row in rows] == list(images.files) and out.count("\n") == 3  # a header, 2 rows
    assert [row["note"] for row in rows] == list(images.notes) and rows[1]["note"].startswith("trimmed to ")
    for row, given, p in zip(rows, classes.tolist(), probabilities, strict=True):
        second = int(p.topk(2).indices[1])
        assert (int(row["class"]), row["name"], float(row["probability"])) == \
            (given, model.class_names[given], pytest.approx(float(p[given]), abs=1e-6))
        assert (int(row["next"]), row["next_name"], float(row["next_probability"])) == \
            (second, model.class_names[second], pytest.approx(float(p[second]), abs=1e-6))


def test_train_refuses_an_output_folder_before_it_trains(tmp_path: Path, capsys) -> None:
    """A folder that cannot be written, or that holds a model already, is refused at once: not after
    the training, whose result would be lost, and never by overwriting the model there."""
    from nas_pattern.train import build_parser, output_dir
    from nas_pattern.train import main as train

    source = architecture_file(tmp_path / "arch.json")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / MODEL).write_bytes(b"a model trained before")
    exported = tmp_path / "exported"  # best.onnx without its best.pt: moved away, or exported from elsewhere
    exported.mkdir()
    (exported / ONNX_MODEL).write_bytes(b"a model exported before")
    search = tmp_path / "search"  # a search's run directory with no best.pt yet: its children all failed, say
    search.mkdir()
    (search / "config.json").write_text('{"config": {}, "space": {}}')
    for out, message in [("/proc/nas-out", "output folder /proc/nas-out cannot be created: No such file"),
                         (str(taken), f"--out {taken} already holds best.pt, a model trained before"),
                         (str(exported), f"--out {exported} already holds best.onnx, a model trained before"),
                         (str(search), f"--out {search} is a search's run directory (it holds config.json)")]:
        assert train([str(source), "--epochs", "1", "--train-limit", "100", "--out", out]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and captured.err.count("\n") == 1
        assert "Training" not in captured.out  # refused before it trained
    assert (taken / MODEL).read_bytes() == b"a model trained before"
    assert sorted(p.name for p in exported.iterdir()) == [ONNX_MODEL]
    assert (exported / ONNX_MODEL).read_bytes() == b"a model exported before"
    assert sorted(p.name for p in search.iterdir()) == ["config.json"]
    project = tmp_path / "project"  # a config.json of something else's: train writes none, so the folder is fine
    project.mkdir()
    (project / "config.json").write_text('{"lr": 0.1}')
    assert output_dir(build_parser().parse_args([str(source), "--out", str(project)]))[0] == project


def test_the_default_output_folder_never_replaces_a_model(tmp_path: Path) -> None:
    from nas_pattern.train import build_parser, output_dir

    args = build_parser().parse_args([str(tmp_path), "--epochs", "3"])
    assert output_dir(args)[0] == tmp_path / "retrained-3-epochs"
    assert output_dir(args)[0] == tmp_path / "retrained-3-epochs-2"  # made by the one before: a training began there
    (tmp_path / "retrained-3-epochs" / MODEL).write_bytes(b"trained before")
    assert output_dir(args)[0] == tmp_path / "retrained-3-epochs-3"
    out = build_parser().parse_args([str(tmp_path), "--out", str(tmp_path / "retrained-3-epochs-2")])
    assert output_dir(out)[0] == tmp_path / "retrained-3-epochs-2"  # an --out that holds no model is yours to use


def damaged(searched: Path, tmp_path: Path, how: str) -> Path:
    """A copy of best.pt, damaged `how`."""
    target = tmp_path / f"{how}.pt"
    data = (searched / MODEL).read_bytes()
    if how == "truncated":
        target.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        target.write_bytes(b"")
    elif how == "onnx":
        target = searched / ONNX_MODEL
    elif how == "checkpoint":  # the other .pt file in a run directory
        target = searched / "checkpoint.pt"
    elif how == "record":  # a run directory's other files are text
        target = searched / "episodes.jsonl"
    elif how == "foreign":  # a pickle that would run code: torch.load with weights_only refuses it
        torch.save({"card": argparse.Namespace()}, target)
    else:
        payload = torch.load(searched / MODEL, weights_only=True)
        if how == "future":
            payload["format_version"] = FORMAT_VERSION + 1
        elif how == "custom":
            payload["card"]["network"] = "my_lab.networks:WideNet"
        torch.save(payload, target)
    return target


@pytest.mark.slow
@pytest.mark.parametrize(("how", "message"), [
    ("missing", "does not exist"),
    ("truncated", "is not a readable model file (truncated, or not written by nas-pattern)"),
    ("onnx", f"is the ONNX export, for ONNX Runtime; nas-pattern loads the {MODEL} beside it"),
    ("checkpoint", f"is the search's checkpoint, for python -m nas_pattern.run --resume; the model is the {MODEL}"),
    ("empty", "is empty: not a readable model file (truncated, or not written by nas-pattern)"),
    ("record", f"is not a model file: torch.save writes a zip archive, and this file begins b'{{\"episod'; a "
               f"run directory's model is its {MODEL}"),
    ("foreign", "finds more in it than tensors and plain values (Unsupported global: GLOBAL argparse.Namespace"),
    ("future", f"has model format {FORMAT_VERSION + 1}"),
    ("custom", "network class my_lab.networks:WideNet is not imported here, and a model file imports no code it "
               "names: import my_lab.networks first (the commands: --import my_lab.networks)"),
])
def test_a_bad_model_file_is_one_line_and_exit_2(how: str, message: str, searched: Path, tmp_path: Path,
                                                 capsys) -> None:
    path = tmp_path / "none.pt" if how == "missing" else damaged(searched, tmp_path, how)
    assert predict([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0, err
    assert "weights_only" not in err  # torch's advice to load a foreign file with weights_only=False
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(message)):
        load_model(path)


@pytest.mark.slow
def test_a_model_file_imports_no_module_it_names_and_loads_once_the_user_imports_it(searched: Path, tmp_path: Path,
                                                                                   monkeypatch, capsys) -> None:
    """best.pt names its network class's module, which load_model imported: a model from elsewhere
    with a module beside it, loaded from that folder, ran that module's code. A network of one's
    own is loaded once its module is imported, by the program or by the commands' --import."""
    from nas_pattern.train import main as train

    (tmp_path / "lab_nets.py").write_text("from pathlib import Path\n\nPath(__file__).with_name('ran').touch()\n\n"
                                          "from nas_pattern import CNN\n\n\nclass WideNet(CNN):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # importable, as a module beside the model is from its folder
    payload = torch.load(searched / MODEL, weights_only=True)
    payload["card"]["network"] = "lab_nets:WideNet"
    torch.save(payload, tmp_path / MODEL)
    assert predict([str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("python -m nas_pattern.predict: error: the model's network class "
                                       "lab_nets:WideNet is not imported here, and a model file imports no code it "
                                       "names: import lab_nets first (the commands: --import lab_nets)\n")
    assert train([str(tmp_path / MODEL), "--out", str(tmp_path / "retrained")]) == 2
    assert "network class lab_nets:WideNet is not imported here" in capsys.readouterr().err
    assert not (tmp_path / "ran").exists() and not (tmp_path / "retrained").exists()
    assert predict([str(tmp_path), "--import", "lab_nets", "--images", "200"]) == 0  # at the user's word
    assert (tmp_path / "ran").exists()
    assert f"{tmp_path / MODEL}: WideNet conv" in capsys.readouterr().out
    assert type(load_model(tmp_path).network).__name__ == "WideNet"  # imported now: load_model takes it
    assert train([str(tmp_path / MODEL), "--epochs", "1", "--train-limit", "100", "--import", "lab_nets", "--out",
                  str(tmp_path / "retrained")]) == 0
    assert load_model(tmp_path / "retrained").card.network == "lab_nets:WideNet"
    monkeypatch.delitem(sys.modules, "lab_nets")
    assert predict([str(tmp_path), "--import", "lab_nets.missing"]) == 2
    assert capsys.readouterr().err.endswith("error: --import lab_nets.missing: ModuleNotFoundError: No module named "
                                            "'lab_nets.missing'; 'lab_nets' is not a package\n")


@pytest.mark.slow
def test_predict_whose_output_is_closed_stops_in_one_line(searched: Path) -> None:
    """`python -m nas_pattern.predict DIR | head -1`: it ended with a BrokenPipeError traceback. Its
    reader is gone here before it prints (it prints once it has tested the model), as head's is
    before the last lines."""
    predicting = subprocess.Popen([sys.executable, "-m", "nas_pattern.predict", str(searched), "--images", "100"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert predicting.stdout is not None
    predicting.stdout.close()
    _, err = predicting.communicate(timeout=120)
    assert predicting.returncode == 130
    assert err == "python -m nas_pattern.predict: its output was closed; it stopped\n"


@pytest.mark.slow
def test_predict_stopped_by_sigterm_says_so_in_one_line(searched: Path, capsys) -> None:
    """`kill` or `timeout` ended predict without a word (exit 143), and Ctrl-C in a traceback."""
    from nas_pattern import predict as module

    with sigterm_in(module, "load_test_split"):
        assert predict([str(searched), "--images", "100"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "\npython -m nas_pattern.predict: interrupted\n" and captured.out == ""


@pytest.mark.slow
def test_predict_describes_the_model_and_tests_it(searched: Path, tmp_path: Path, capsys) -> None:
    assert predict([str(searched), "--images", "1000"]) == 0
    out = capsys.readouterr().out
    assert "CNN conv" in out and "test accuracy" in out and "on 1,000 fashion-mnist test images" in out
    model = load_model(searched)
    test = load_test_split("fashion-mnist").head(1000)
    with torch.inference_mode():
        given = model.module(test.x).argmax(1)
    rows = out.split("most often taken for\n")[1].splitlines()
    assert [row.split()[0] for row in rows] == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                                "Shirt", "Sneaker", "Bag", "Ankle"]
    for label, row in enumerate(rows):  # each class's accuracy, counted here from the network's own answers
        mine = given[test.y == label]
        assert f" {(mine == label).float().mean().item():.3f}  " in row
    test_files = tmp_path / "test-files"  # a machine that only tests the model needs no training files
    test_files.mkdir()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (test_files / f"{stem}.gz").symlink_to(Path(FASHION_MNIST_DIR) / f"{stem}.gz")
    assert predict([str(searched), "--images", "1000", "--data-dir", str(test_files)]) == 0
    assert capsys.readouterr().out == out


@pytest.mark.slow
def test_predict_classifies_image_files_as_the_model_classifies_their_pixels(searched: Path, tmp_path: Path,
                                                                            capsys) -> None:
    """The model found is for one's own images, and predict took only the dataset's test images."""
    from PIL import Image

    pixels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:3]
    model = load_model(searched)
    classes, probabilities = model.predict(pixels)
    names = model.class_names
    Image.fromarray(pixels[0]).save(tmp_path / "as is.png")
    Image.fromarray(pixels[1]).resize((56, 56), Image.Resampling.NEAREST).convert("RGB").save(tmp_path / "big.png")
    Image.fromarray(255 - pixels[2]).save(tmp_path / "negated.png")  # dark on light, as a photo often is

    def lines(*args: str) -> list[str]:
        assert predict([str(searched), *args]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith(f"{searched / MODEL}: CNN conv") and out[1].startswith("  trained ")
        return out[2:]

    files = [str(tmp_path / name) for name in ("as is.png", "big.png", "negated.png")]
    given = lines(*files)
    negated = lines("--invert", files[2])
    assert lines(str(tmp_path)) == given  # a folder: its image files, in name order
    for i, line in [(0, given[0]), (2, negated[0])]:  # each as the model classifies the dataset's pixels
        second = int(probabilities[i].topk(2).indices[1])
        assert f" {names[classes[i]]} " in line and f" {float(probabilities[i, classes[i]]):.3f}  (next " in line
        assert f"(next {names[second]} {float(probabilities[i, second]):.3f})" in line
    assert given[0].startswith(f"  {files[0]}  ") and given[0].endswith(")")  # nothing done to it
    assert re.search(r"^  \S+big\.png  +[\w /-]+ 0\.\d{3}  \(next .+\)  trimmed to \d+x\d+ at \(\d+, \d+\); "
                     r"scaled from \d+x\d+$", given[1]), given[1]  # in colour: grey, and made as the dataset's
    assert given[2].endswith("its border is light, and fashion-mnist's images are light on dark: --invert may suit it")


def test_a_model_reads_image_files_as_its_input_one_folder_or_file_or_many(tmp_path: Path) -> None:
    """FoundModel.read_images: what `predict DIR IMAGE...` does, for code (and the JVM's readImages)."""
    from PIL import Image

    model = untrained_model(tmp_path, "fashion-mnist", (1, 28, 28))
    pixels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:2]
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(pixels[0]).save(photos / "b.png")  # the input's size: taken as it is
    Image.fromarray(255 - pixels[1]).resize((56, 56), Image.Resampling.NEAREST).save(photos / "a.jpg", quality=95)
    (photos / "notes.txt").write_text("not an image file: a folder's are those of image extensions")
    (photos / "._a.jpg").write_bytes(b"\x00\x05\x16\x07")  # a Mac's AppleDouble file beside a.jpg: hidden, left out
    images = model.read_images(photos, invert=True)  # a folder: its image files, in name order
    assert images.files == (str(photos / "a.jpg"), str(photos / "b.png"))
    assert images.pixels.shape == (2, 1, 28, 28) and images.pixels.dtype == np.uint8
    assert (images.pixels[1, 0] == 255 - pixels[0]).all() and images.notes[1] == ""
    assert images.notes[0].startswith("trimmed to ") and "scaled from" in images.notes[0]
    one = model.read_images(str(photos / "b.png"))  # one file, by name
    assert one.files == (str(photos / "b.png"),) and (one.pixels[0, 0] == pixels[0]).all() and one.notes == ("",)
    both = model.read_images([photos / "a.jpg", str(photos / "b.png")], invert=True)
    assert both.files == images.files and (both.pixels == images.pixels).all() and both.notes == images.notes
    classes, probabilities = model.predict(one.pixels)
    assert torch.equal(classes, model.predict(pixels[:1])[0]) and probabilities.shape == (1, 10)
    with pytest.raises(ValueError, match=r"notes\.txt: not an image Pillow can read \(cannot identify"):
        model.read_images([photos / "b.png", photos / "notes.txt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: a folder with no image files in it"):
        model.read_images(tmp_path / "empty")
    none = model.read_images([])  # no files: no images, as predict() of none gives no classes
    assert none.files == none.notes == () and none.pixels.shape == (0, 1, 28, 28)
    assert model.predict(none.pixels)[1].shape == (0, 10)


def test_reading_many_image_files_shows_its_progress_at_a_terminal_and_its_bar_goes_when_done(
        tmp_path: Path, monkeypatch, capsys) -> None:
    """A folder of large photos takes a while to read (0.03 s a 27-megapixel JPEG): a bar says how far
    it is, then gives its place to the classes' lines; in a log (no terminal) there is no bar."""
    from PIL import Image

    model = untrained_model(tmp_path, "fashion-mnist", (1, 28, 28))
    for i, pixels in enumerate(read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:3]):
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    assert predict([str(model.path), str(tmp_path)]) == 0
    in_a_log = capsys.readouterr().out
    assert "reading:" not in in_a_log and "\r" not in in_a_log and len(in_a_log.splitlines()) == 5
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert predict([str(model.path), str(tmp_path)]) == 0
    at_a_terminal = capsys.readouterr().out
    assert "reading:   0%|" in at_a_terminal and "| 0/3 [" in at_a_terminal, at_a_terminal
    bar, lines = at_a_terminal.rsplit("\r", 1)  # the bar, then wiped (leave=False); then the lines, as in a log
    assert "\n" not in bar and bar.endswith("\r" + " " * (len(bar) - bar.rindex("\r") - 1)) and lines == in_a_log


def test_image_files_cross_the_bridge_packed_with_their_names_in_utf_8(tmp_path: Path) -> None:
    """The JVM's FoundModel.readImages: paths in, files, notes and pixels out, in one call each way."""
    import base64
    import struct

    from PIL import Image

    from nas_pattern.adapters import Model
    from nas_pattern.bridge import from_base64, pack_texts, unpack_texts

    model = untrained_model(tmp_path, "fashion-mnist", (1, 28, 28))
    shoe = np.zeros((56, 28), dtype=np.uint8)
    shoe[8:40, 4:20] = 200
    Image.fromarray(shoe).save(tmp_path / "Schuh größe 42.png")
    paths = [str(tmp_path / "Schuh größe 42.png")]
    assert unpack_texts(pack_texts(paths)) == paths
    answer = Model(None, model).readImages(base64.b64encode(pack_texts(paths)).decode(), True)  # type: ignore[arg-type]
    at, texts = 0, []
    for _ in range(2):  # the files, then their notes: each list its length, then each text's byte count and UTF-8
        (count,) = struct.unpack_from("<i", answer, at)
        at += 4
        for _ in range(count):
            (size,) = struct.unpack_from("<i", answer, at)
            texts.append(answer[at + 4:at + 4 + size].decode("utf-8"))
            at += 4 + size
    images = model.read_images(paths, invert=True)
    assert texts == [paths[0], images.notes[0]] and images.notes[0].startswith("trimmed to 16x32 at (4, 8)")
    assert answer[at:] == images.pixels.tobytes() and len(answer[at:]) == 784  # a byte a pixel
    with pytest.raises(ValueError, match="malformed packed texts"):
        unpack_texts(pack_texts(paths)[:-1])
    with pytest.raises(ValueError, match="malformed base64 from the JVM"):
        from_base64("not base64!")
    # FoundModel.predict's pixels: a byte each where all are whole (as files hold them), else float32
    adapter, pixels = Model(None, model), read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:4]  # type: ignore[arg-type]
    as_bytes = adapter.classify(base64.b64encode(pixels.tobytes()).decode(), 4)
    assert as_bytes == adapter.classify(base64.b64encode(pixels.astype("<f4").tobytes()).decode(), 4)
    classes, probabilities = model.predict(pixels)
    assert as_bytes == classes.numpy().astype("<i4").tobytes() + probabilities.numpy().astype("<f4").tobytes()
    halves = adapter.classify(base64.b64encode((pixels.astype("<f4") * 0.5 + 0.25).tobytes()).decode(), 4)
    assert halves == b"".join(t.numpy().astype(d).tobytes() for t, d in zip(model.predict(pixels * 0.5 + 0.25),
                                                                              ("<i4", "<f4"), strict=True))
    with pytest.raises(ValueError, match="expected 3 images of 784 values, got 3136 bytes"):  # (the JVM gets it)
        Model.classify.__wrapped__(adapter, base64.b64encode(pixels.tobytes()).decode(), 3)  # type: ignore[attr-defined]


def test_a_model_closed_from_the_jvm_lets_go_of_its_weights_at_once(tmp_path: Path) -> None:
    """FoundModel.close: py4j drops an adapter only when the JVM's collector drops its proxy, which
    may be never; close() lets go of the model, its module and weights, there and then."""
    import base64
    import weakref

    from nas_pattern.adapters import Model

    adapter = Model(None, untrained_model(tmp_path, "fashion-mnist", (1, 28, 28)))  # type: ignore[arg-type]
    module, pixels = weakref.ref(adapter.loaded.module), read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:2]
    adapter.classify(base64.b64encode(pixels.tobytes()).decode(), 2)
    assert adapter.describe().startswith("FoundModel (CNN ")
    adapter.close()
    assert module() is None  # freed now, not at some later collection
    assert adapter.describe() == "FoundModel (closed)" and adapter.core() is adapter
    for call in (lambda: Model.classify.__wrapped__(adapter, base64.b64encode(pixels.tobytes()).decode(), 2),  # type: ignore[attr-defined]
                 lambda: Model.readImages.__wrapped__(adapter, "", False), adapter.numClasses):  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match=r"^this model was closed: load it again with NASGateway\.loadModel$"):
            call()
    adapter.close()  # again: nothing


def test_image_files_are_scaled_to_fit_with_their_aspect_kept_and_their_border_colour_around(tmp_path: Path) -> None:
    from PIL import Image

    from nas_pattern.images import read_images

    wide = np.zeros((28, 56), dtype=np.uint8)
    wide[:, 28:] = 255  # dark left, light right: the border's mean is 127.5
    Image.fromarray(wide).save(tmp_path / "wide.png")
    pixels, notes = read_images([str(tmp_path / "wide.png")], (1, 28, 28))
    assert pixels.shape == (1, 1, 28, 28) and pixels.dtype == np.uint8 and notes == ["scaled from 56x28"]
    image = pixels[0, 0]
    assert (image[:7] == 128).all() and (image[21:] == 128).all()  # 28x14, centred, filled with the border's mean
    assert (image[7:21, :14] == 0).all() and (image[7:21, 14:] == 255).all()
    colour, _ = read_images([str(tmp_path / "wide.png")], (3, 32, 32))  # a CIFAR-10 model's input: RGB, 32x32
    assert colour.shape == (1, 3, 32, 32) and (colour[0, 0] == colour[0, 2]).all()


@pytest.mark.parametrize(("dataset", "columns", "rows"), [("fashion-mnist", (7, 21), (0, 28)),
                                                         ("mnist", (9, 19), (4, 24))])
def test_a_photo_is_trimmed_to_its_thing_and_framed_as_the_dataset_frames_its_images(
        dataset: str, columns: tuple[int, int], rows: tuple[int, int], tmp_path: Path) -> None:
    """Fashion-MNIST's products fill the 28x28 and MNIST's digits a 20x20 box in it: a photo's
    whole frame, scaled, made its thing a fraction of that (photos of test images on a white ground
    got the test image's class 51% of the time, against 93% trimmed: benchmarks/photos.py)."""
    from PIL import Image

    from nas_pattern.images import read_images

    photo = np.full((60, 100), 255, dtype=np.uint8)  # a dark thing, 20 wide and 40 high, on white
    photo[10:50, 30:50] = 0
    Image.fromarray(photo).save(tmp_path / "photo.png")
    pixels, notes = read_images([str(tmp_path / "photo.png")], (1, 28, 28), invert=True, dataset=dataset)
    assert notes == ["trimmed to 20x40 at (30, 10); scaled from 20x40"]
    thing = np.zeros((28, 28), dtype=bool)
    thing[rows[0]:rows[1], columns[0]:columns[1]] = True  # 1:2, the height the frame's: 28, or MNIST's 20
    assert (pixels[0, 0][thing] == 255).all() and (pixels[0, 0][~thing] == 0).all()
    # a 10-megapixel JPEG: decoded at a quarter of its size (a 27-megapixel one took 1.6 s whole), alike
    Image.fromarray(photo).resize((4000, 2400), Image.Resampling.NEAREST).save(tmp_path / "large.jpg", quality=95)
    large, notes = read_images([str(tmp_path / "large.jpg")], (1, 28, 28), invert=True, dataset=dataset)
    assert notes == ["decoded at 1000x600 of 4000x2400; trimmed to 200x400 at (300, 100); scaled from 200x400"]
    assert np.abs(large.astype(int) - pixels.astype(int)).max() <= 8  # JPEG's loss


def test_a_grey_image_of_16_bits_is_read_as_its_8_bit_values_not_clipped_white(tmp_path: Path) -> None:
    """Pillow's convert("L") clips 16-bit values at 255: a 16-bit PNG of a test image came out white
    but for its darkest pixels (254 of 255 levels off)."""
    from PIL import Image

    from nas_pattern.images import read_images

    pixels = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[0]
    for name in ("sixteen.png", "sixteen.tiff"):
        Image.fromarray(pixels.astype(np.uint16) * 257).save(tmp_path / name)  # 0-255 as 0-65535
        read, notes = read_images([str(tmp_path / name)], (1, 28, 28), dataset="fashion-mnist")
        assert (read[0, 0] == pixels).all() and notes == [""], name


def test_a_phone_s_photo_is_turned_upright_and_a_cutout_s_transparent_ground_taken_as_white(tmp_path: Path) -> None:
    """A phone stores a photo as its sensor read it, with an EXIF tag saying how to turn it; a
    product cutout's ground is transparent. Read as they were stored, the one lay on its side and
    the other's ground was whatever colour its transparent pixels happened to hold."""
    from PIL import Image

    from nas_pattern.images import EXIF_ORIENTATION, read_images

    wide = np.zeros((28, 56), dtype=np.uint8)
    wide[:, 28:] = 255
    Image.fromarray(wide).save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "turn it 90 degrees clockwise to show it"
    Image.fromarray(wide).transpose(Image.Transpose.ROTATE_90).save(tmp_path / "as stored.png", exif=exif)
    upright, _ = read_images([str(tmp_path / "upright.png")], (1, 28, 28))
    turned, notes = read_images([str(tmp_path / "as stored.png")], (1, 28, 28))
    assert (turned == upright).all() and notes == ["turned upright (EXIF orientation 6); scaled from 56x28"]
    cutout = np.zeros((28, 28, 4), dtype=np.uint8)  # black everywhere, and transparent but for a square
    cutout[10:18, 10:18, 3] = 255
    Image.fromarray(cutout, "RGBA").save(tmp_path / "cutout.png")
    pixels, notes = read_images([str(tmp_path / "cutout.png")], (1, 28, 28), invert=True, dataset="fashion-mnist")
    square = np.zeros((28, 28), dtype=bool)
    square[10:18, 10:18] = True
    assert (pixels[0, 0][square] == 255).all() and (pixels[0, 0][~square] == 0).all()  # on white, then negated
    assert notes == ["its transparent parts taken as white"]


def test_an_image_of_several_frames_is_read_by_its_first_and_the_note_says_so(tmp_path: Path) -> None:
    from PIL import Image

    from nas_pattern.images import read_images

    frames = [Image.new("L", (28, 28), value) for value in (200, 10, 90)]
    frames[0].save(tmp_path / "animated.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "pages.tiff", save_all=True, append_images=frames[1:])
    pixels, notes = read_images([str(tmp_path / "animated.gif"), str(tmp_path / "pages.tiff")], (1, 28, 28))
    assert (pixels == 200).all() and notes == ["the first of its 3 frames"] * 2
    frames[0].save(tmp_path / "still.gif")
    assert read_images([str(tmp_path / "still.gif")], (1, 28, 28))[1] == [""]


def test_image_files_are_read_by_threads_where_they_are_faster_and_made_as_one_at_a_time_makes_them(
        tmp_path: Path, monkeypatch) -> None:
    """A folder of photos was read one at a time (500 JPEGs of 400x300 a second on 2 cores), though
    Pillow decodes without Python's lock. Threads read them now where a trial finds them faster: each
    file made as before, in order, and a file that cannot be read still the first such in their order.
    Here the work is made to sleep, so that which way is faster does not depend on the machine."""
    import threading

    from PIL import Image

    from nas_pattern import images

    rng = np.random.default_rng(0)
    paths = []
    for i in range(70):  # sizes and formats of all kinds, some to be trimmed, scaled, turned
        side = int(rng.integers(20, 90))
        path = tmp_path / f"{i:02d}.{('png', 'jpg', 'gif')[i % 3]}"
        Image.fromarray(rng.integers(0, 256, (side, side + i % 7, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    alone, alone_notes = images.read_images(paths, (1, 28, 28), invert=True, dataset="fashion-mnist", readers=1)
    made = images._made
    main = threading.get_ident()
    for slower_in_threads in (False, True):
        readers: dict[str, int] = {}

        def reading(path: str, *args: object, readers: dict[str, int] = readers,
                    slower: bool = slower_in_threads) -> tuple[np.ndarray, str]:
            readers[path] = threading.get_ident()
            time.sleep(0.15 if slower and readers[path] != main else 0.02)  # beyond a pause of 0.1 s
            return made(path, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(images, "_made", reading)
        threaded, notes = images.read_images(paths, (1, 28, 28), invert=True, dataset="fashion-mnist", readers=3)
        assert (threaded == alone).all() and notes == alone_notes and len(notes) == 70 and any(notes)
        by = [readers[path] for path in paths]
        assert set(by[:16]) == {main} and main not in by[16:64]  # the first chunk alone, 3 chunks by the threads
        assert (set(by[64:]) == {main}) == slower_in_threads  # then the faster way
    monkeypatch.setattr(images, "_made", made)
    for bad in (40, 60):
        Path(paths[bad]).write_bytes(b"not an image")
    with pytest.raises(ValueError, match=rf"^{re.escape(paths[40])}: not an image Pillow can read"):
        images.read_images(paths, (1, 28, 28), readers=3)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("reading")]  # none left
    # Stopped while threads read (there, by a file it cannot read; Ctrl-C alike), each thread ends with
    # the file it is on: it does not read the rest of its chunk (16 photos of 0.5 s each were 8 s).
    from concurrent.futures import ThreadPoolExecutor

    calls: list[str] = []
    on_a_file = threading.Event()  # the other threads hold on to a file until the reading is stopped
    shutdown = ThreadPoolExecutor.shutdown

    def stopping(pool: ThreadPoolExecutor, *args: object, **kwargs: object) -> None:
        on_a_file.set()
        shutdown(pool, *args, **kwargs)  # type: ignore[arg-type]

    second_on_its_file = threading.Event()

    def held(path: str, *args: object) -> tuple[np.ndarray, str]:
        calls.append(path)
        if paths.index(path) == 32:  # the second chunk of the threads' trial: its first file
            second_on_its_file.set()
        if paths.index(path) >= 32:  # the second and third chunk of the trial (the third may not start)
            on_a_file.wait(10)
        if paths.index(path) == 20:  # the file it cannot read, in the first chunk, once the second's is begun
            second_on_its_file.wait(10)
        return made(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ThreadPoolExecutor, "shutdown", stopping)
    monkeypatch.setattr(images, "_made", held)
    Path(paths[20]).write_bytes(b"not an image")  # in the first chunk of the trial
    with pytest.raises(ValueError, match=rf"^{re.escape(paths[20])}: not an image Pillow can read"):
        images.read_images(paths, (1, 28, 28), readers=3)
    assert len(calls) == len(set(calls)) and set(calls) - {paths[48]} == {*paths[:21], paths[32]}


def test_the_bench_reads_three_kinds_of_image_files_one_at_a_time_and_by_default(capsys) -> None:
    from nas_pattern.bench.cli import main as bench

    assert bench(["reading", "--test-limit", "40", "--rounds", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[4:]]  # files, input, alone ms, alone /s, default /s, ratio
    assert [row[1] for row in rows] == ["PNG", "PNG", "JPEG"] and [row[-5] for row in rows] == [
        "1x28x28", "1x64x64", "3x48x64"], out  # as common_shape makes a folder dataset's input: at most 64
    for row in rows:
        ms, alone, default, ratio = (float(value.replace(",", "").rstrip("x")) for value in row[-4:])
        assert ms > 0 and abs(1000 / alone - ms) <= 0.006 and ratio == pytest.approx(default / alone, 0.02)


def test_an_image_too_large_to_read_safely_is_one_line_naming_it(tmp_path: Path, monkeypatch) -> None:
    """Pillow refuses an image of more than twice its MAX_IMAGE_PIXELS (a decompression bomb, or a
    vast scan) with an error of its own, which was a traceback."""
    from PIL import Image

    from nas_pattern.images import common_shape, read_images

    Image.new("L", (100, 100)).save(tmp_path / "vast.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 10,000 pixels: more than twice the limit
    with pytest.raises(ValueError, match=r"vast\.png: not read, too large: Image size \(10000 pixels\) exceeds"):
        read_images([str(tmp_path / "vast.png")], (1, 28, 28))
    with pytest.raises(ValueError, match=r"vast\.png: not read, too large: Image size \(10000 pixels\) exceeds"):
        common_shape([str(tmp_path / "vast.png")], 64)  # a folder dataset's, before its images are read


@pytest.mark.parametrize(("content", "why"), [(b"not an image", "not an image Pillow can read (cannot identify"),
                                              (None, "No such file or directory")])
def test_an_image_file_that_cannot_be_read_is_one_line_and_exit_2(content: bytes | None, why: str, tmp_path: Path,
                                                                   capsys) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / "good.png")
    if content is not None:
        (tmp_path / "bad.png").write_bytes(content)
    model = tmp_path / MODEL
    network = CNN(CNN_SPACE.decode([0] * len(CNN_SPACE.num_choices)), (1, 28, 28), 10)
    network.build()
    assert network.module is not None
    split = Split(torch.zeros(2, 1, 28, 28), torch.zeros(2, dtype=torch.long), "train")
    card = ModelCard.of(CNN, network.architecture, CNN_SPACE, Dataset("fashion-mnist", split, split, split, 10),
                        network.train_config, episode=1, trained="none", val_metrics=None, test_metrics=None)
    save_model(model, card, network.module.state_dict())
    assert predict([str(model), str(tmp_path / "good.png"), str(tmp_path / "bad.png")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"python -m nas_pattern.predict: error: {tmp_path / 'bad.png'}: {why}")
    (tmp_path / "empty").mkdir()
    assert predict([str(model), str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.endswith(f"error: {tmp_path / 'empty'}: a folder with no image files in it (PNG, "
                                            "JPEG, ...: any Pillow reads)\n")
    with pytest.raises(SystemExit) as refused:  # a flag of the test set's, with files: argparse's one line
        predict([str(model), str(tmp_path / "good.png"), "--images", "5"])
    assert refused.value.code == 2
    assert "--images is for testing the model on the dataset's test images" in capsys.readouterr().err


@pytest.mark.slow
def test_the_photo_check_of_predict_s_image_reading_runs(searched: Path) -> None:
    """benchmarks/photos.py prints the README's figures of predict's image files."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "photos.py"
    done = subprocess.run([sys.executable, str(script), str(searched), "20"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["trimmed, as predict reads it", "its whole frame scaled"]
    assert all(re.search(r" \d+ of 20 photos get the test image's class \(\d+%\)$", line) for line in lines)


@pytest.mark.slow
def test_after_a_kill_and_a_resume_best_pt_is_the_best_of_the_finished_search(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    search = ["--space", SMALL_CNN, "--episodes", "6", "--children-per-update", "2", "--train-limit", "300",
              "--seed", "4"]
    process = subprocess.Popen([sys.executable, "-m", "nas_pattern.run", *search, "--run-dir", str(run_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    record = run_dir / "episodes.jsonl"
    deadline = time.monotonic() + 300
    while not (record.exists() and record.read_text().count("\n") >= 3):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert (run_dir / MODEL).exists()  # the killed search kept its best so far
    done = run("nas_pattern.run", "--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    model = load_model(run_dir)
    assert model.card.episode == summary["best"]["episode"]
    assert model.card.val_metrics["accuracy"] == summary["best_val_accuracy"]


def test_final_epochs_put_the_retrained_weights_in_best_model(small_fashion: Dataset) -> None:
    from nas_pattern import CNN, CNN_SPACE, AgentConfig, NASController, RLAgent, SearchConfig

    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2)), small_fashion, network=CNN,
                               config=SearchConfig(episodes=2, train_limit=200))
    result = controller.search()
    assert controller.best_model is not None and controller.best_model[0] is result.best
    searched = controller.best_model[1]
    tested = controller.final_test(result, final_epochs=1)
    episode, retrained = controller.best_model
    assert episode is result.best and tested.final_epochs == 1
    assert any(not torch.equal(searched[name], retrained[name]) for name in searched)  # trained anew


def test_ctrl_c_while_train_trains_writes_nothing_and_leaves_no_empty_folder(tmp_path: Path, monkeypatch,
                                                                             capsys) -> None:
    from nas_pattern.networks import TorchNetwork
    from nas_pattern.train import main as train

    def interrupted(self, data, epochs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TorchNetwork, "train", interrupted)
    (tmp_path / "run").mkdir()
    source = architecture_file(tmp_path / "run" / "arch.json")
    monkeypatch.chdir(tmp_path)
    assert train([str(source)]) == 130
    assert capsys.readouterr().err == "\npython -m nas_pattern.train: interrupted; no model was written\n"
    assert not (tmp_path / "runs").exists()  # runs/train-<time>, made for the model, is gone, and runs/ too
    assert train([str(source), "--out", "mine"]) == 130
    assert list((tmp_path / "mine").iterdir()) == []  # a folder you named stays


@pytest.mark.slow
def test_sigterm_while_train_trains_stops_it_as_ctrl_c_does(tmp_path: Path) -> None:
    """`timeout`, `kill` or a batch system: train died with status 143 and left its empty folder behind."""
    (tmp_path / "run").mkdir()
    source = architecture_file(tmp_path / "run" / "arch.json")
    training = subprocess.Popen([sys.executable, "-m", "nas_pattern.train", str(source), "--epochs", "50"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert training.stdout is not None and training.stdout.readline().startswith("Training CNN conv 3x8 pool2")
    training.send_signal(signal.SIGTERM)  # once its first epoch's line is out: 50 epochs take minutes
    _, err = training.communicate(timeout=120)
    assert training.returncode == 130
    assert err == "\npython -m nas_pattern.train: interrupted; no model was written\n"
    assert not (tmp_path / "runs").exists()  # runs/train-<time>, made for the model, is gone, and runs/ too


def test_sigterm_while_train_loads_its_data_is_ctrl_c_too(tmp_path: Path, capsys) -> None:
    """Before, only the training itself took SIGTERM as Ctrl-C: while the data loaded, the default
    action ended train without a word (exit 143)."""
    from nas_pattern import train as module
    from nas_pattern.train import main as train

    source = architecture_file(tmp_path / "arch.json")
    with sigterm_in(module, "load_dataset"):
        assert train([str(source), "--epochs", "1", "--out", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == ("\npython -m nas_pattern.train: interrupted before the training began; no model "
                                       "was written\n")
    assert not (tmp_path / "out").exists()
    kept = tmp_path / "kept"  # a training stopped after its first epoch, then a resume stopped so
    kept.mkdir()
    (kept / "training.pt").write_bytes(b"as it was")
    with sigterm_in(module, "resumed"):
        assert train(["--resume", str(kept)]) == 130
    assert capsys.readouterr().err == ("\npython -m nas_pattern.train: interrupted before the training went on; "
                                       f"{kept} keeps what it kept: python -m nas_pattern.train --resume {kept} goes "
                                       "on from there\n")
    assert (kept / "training.pt").read_bytes() == b"as it was"


def test_train_of_a_model_too_large_for_the_memory_says_so_in_one_line(tmp_path: Path, monkeypatch,
                                                                      capsys) -> None:
    from helpers import memory_with_room
    from nas_pattern import memory
    from nas_pattern.train import main as train

    # As on a machine with no more memory than this process holds: the OOM killer used to end it in silence
    monkeypatch.setattr(memory, "memory_limit", lambda: memory_with_room(2**20))
    (tmp_path / "run").mkdir()
    source = tmp_path / "run" / "arch.json"
    source.write_text(json.dumps({"layers": [{"filters": 16384, "kernel_size": 3, "pool_size": 1,
                                              "dropout_rate": 0.0}]}))  # a 1.6 GB feature map for a batch of 32
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"max_layers": 1, "decisions": [
        {"name": "filters", "choices": [16384]}, {"name": "kernel_size", "choices": [3]},
        {"name": "pool_size", "choices": [1]}, {"name": "dropout_rate", "choices": [0.0]}]}))
    monkeypatch.chdir(tmp_path)
    assert train([str(source), "--space", str(space), "--train-limit", "64"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m nas_pattern.train: error: filters=16384 kernel_size=3 pool_size=1 "
                          "dropout_rate=0.0 could not be trained: out of memory: ") and err.count("\n") == 1, err
    assert "can't allocate memory" in err and "of this machine's memory); no model was written" in err
    assert not (tmp_path / "runs").exists()  # the default folder made for the model is gone, and runs/ too


def test_train_whose_loss_becomes_nan_says_so_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from nas_pattern.networks import TorchNetwork
    from nas_pattern.train import main as train
    from nas_pattern.trainer import ChildDiverged

    def diverged(self, data, epochs) -> None:
        raise ChildDiverged("training loss became nan in epoch 1")

    monkeypatch.setattr(TorchNetwork, "train", diverged)
    source = architecture_file(tmp_path / "arch.json")
    assert train([str(source), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == ("python -m nas_pattern.train: error: conv 3x8 pool2 drop0.0 | conv 3x8 pool2 "
                                       "drop0.0 could not be "
                                       "trained: the loss became NaN or infinite: training loss became nan in epoch 1;"
                                       " no model was written\n")
    assert list((tmp_path / "out").iterdir()) == []


def test_train_whose_output_is_closed_stops_while_it_trains_and_keeps_a_model_once_trained(
        tmp_path: Path, monkeypatch, capsys) -> None:
    from nas_pattern import train as train_module
    from nas_pattern.networks import TorchNetwork

    source = architecture_file(tmp_path / "arch.json")
    argv = [str(source), "--epochs", "1", "--train-limit", "100"]
    original = TorchNetwork.train

    def closed(self, data, epochs) -> None:  # `| head` had its lines: the epoch's line cannot be written
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(TorchNetwork, "train", closed)
    assert train_module.main([*argv, "--out", str(tmp_path / "stopped")]) == 130
    assert capsys.readouterr().err == "python -m nas_pattern.train: its output was closed; no model was written\n"
    assert list((tmp_path / "stopped").iterdir()) == []
    monkeypatch.setattr(TorchNetwork, "train", original)

    lines = []

    def gone(device) -> str:  # the test accuracy's line cannot be written: the training is done all the same
        lines.append(device)
        if len(lines) == 2:  # the first is the header's
            raise BrokenPipeError(32, "Broken pipe")
        return "CPU"

    monkeypatch.setattr(train_module, "device_name", gone)
    monkeypatch.setattr(train_module, "drop_output", lambda: None)  # capsys has no file descriptor to replace
    assert train_module.main([*argv, "--out", str(tmp_path / "kept")]) == 0
    assert load_model(tmp_path / "kept").architecture.describe() == "conv 3x8 pool2 drop0.0 | conv 3x8 pool2 drop0.0"


def test_a_search_from_python_saves_the_model_it_found_as_a_run_directory_keeps_it(small_fashion: Dataset,
                                                                                    tmp_path: Path) -> None:
    """NASController.save_model: a search driven from Python (the guide's search.py) had no way to
    keep its product; only the command line's run directory wrote best.pt and best.onnx."""
    from helpers import blank_dataset, make_match_target
    from nas_pattern import AgentConfig, NASController, RandomAgent, RLAgent, SearchConfig

    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2, seed=0)), small_fashion,
                               network=CNN, config=SearchConfig(episodes=2, train_limit=300))
    result = controller.search()
    searched = load_model(controller.save_model(tmp_path / "searched", result))  # untested: as the search trained it
    assert searched.card.trained == "search: 1 epoch(s) on 300 training images" and searched.card.test_metrics is None
    tested = controller.final_test(result)
    path = controller.save_model(tmp_path / "found", tested)
    assert path == tmp_path / "found" / MODEL and (tmp_path / "found" / ONNX_MODEL).is_file()
    model = load_model(path)
    assert model.architecture == tested.best.architecture and model.card.episode == tested.best.episode
    assert tested.test is not None and model.card.test_metrics == tested.test.to_json()
    accuracy = model.evaluate(small_fashion.test).accuracy  # the weights final_test() tested, as it tested them
    assert accuracy == pytest.approx(tested.test.accuracy, abs=1e-4) and accuracy > 0.3
    kept = path.read_bytes()
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'found'))} holds a best\.pt already; choose "):
        controller.save_model(tmp_path / "found", tested)
    assert path.read_bytes() == kept  # nothing lost
    (tmp_path / "a file").write_text("kept")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'a file'))} is a file, not a folder$"):
        controller.save_model(tmp_path / "a file", tested)
    fake = make_match_target(CNN_SPACE, CNN_SPACE.decode([0] * len(CNN_SPACE.num_choices)))  # a Network, no module
    table = NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=fake, config=SearchConfig(episodes=2))
    with pytest.raises(ValueError, match=r"^the MatchTarget network's weights are not a PyTorch module here$"):
        table.save_model(tmp_path / "table", table.search())
    assert not (tmp_path / "table").exists()


def test_a_model_found_on_images_given_from_python_classifies_their_raw_pixels(tmp_path: Path) -> None:
    """Dataset.from_images records the normalisation it made: the model found takes the same raw
    pixels (its predict(), best.onnx), and classifies the test images as its test did."""
    import onnxruntime

    from nas_pattern import AgentConfig, NASController, RLAgent, SearchConfig

    images = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")
    labels = read_idx(FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte")
    data = Dataset.from_images(images[:1500], labels[:1500], images[9500:], labels[9500:], name="my-products",
                               class_names=class_names("fashion-mnist", 10))
    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2, seed=0)), data, network=CNN,
                               config=SearchConfig(episodes=2))
    result = controller.final_test(controller.search())
    model = load_model(controller.save_model(tmp_path, result))
    assert model.card.dataset == "my-products" and model.class_names[9] == "Ankle boot"
    assert model.card.normalisation == data.normalisation and data.normalisation != PIXEL_STATS["fashion-mnist"]
    assert result.test is not None and model.evaluate(data.test).accuracy == pytest.approx(result.test.accuracy,
                                                                                             abs=1e-4)
    classes, _ = model.predict(images[9500:])  # raw pixels, in float32 (the search may evaluate in bfloat16)
    accuracy = float((classes.numpy() == labels[9500:]).mean())
    assert accuracy == pytest.approx(result.test.accuracy, abs=0.02)  # taken unnormalised: 0.71 against 0.80
    session = onnxruntime.InferenceSession(str(tmp_path / ONNX_MODEL))
    (logits,) = session.run(["logits"], {ONNX_INPUT: images[9500:, None].astype(np.float32)})
    assert (logits.argmax(1) == classes.numpy()).mean() >= 0.99  # the same raw pixels, the same classes

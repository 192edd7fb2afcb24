"""Datasets: real Fashion-MNIST splits, and one clear error for every way a file can be wrong."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_pattern import Dataset, load_dataset
from nas_pattern.data import FASHION_MNIST_DIR, load_test_split

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_idx(path: Path, array: np.ndarray, magic: bytes | None = None) -> None:
    header = magic or bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(directory: Path, train: int = 120, test: int = 30) -> Path:
    rng = np.random.default_rng(0)
    write_idx(directory / FILES[0], rng.integers(0, 256, (train, 28, 28)))
    write_idx(directory / FILES[1], rng.integers(0, 10, train))
    write_idx(directory / FILES[2], rng.integers(0, 256, (test, 28, 28)))
    write_idx(directory / FILES[3], rng.integers(0, 10, test))
    return directory


def test_fashion_mnist_splits(fashion) -> None:
    assert (len(fashion.train), len(fashion.val), len(fashion.test)) == (55000, 5000, 10000)
    assert fashion.input_shape == (1, 28, 28) and fashion.num_classes == 10
    assert fashion.train.x.dtype == torch.float32 and fashion.train.y.dtype == torch.int64
    assert abs(float(fashion.train.x.mean())) < 0.05 and abs(float(fashion.train.x.std()) - 1) < 0.05  # normalised


def test_validation_split_is_fixed_and_disjoint_from_training(fashion) -> None:
    again = load_dataset("fashion-mnist")
    assert torch.equal(again.val.x, fashion.val.x)
    # No validation image is also a training image, bar the few exact duplicates Fashion-MNIST holds.
    def images(x: torch.Tensor) -> set[bytes]:
        return {row.tobytes() for row in x.flatten(1).numpy()}
    assert len(images(fashion.val.x) & images(fashion.train.x)) < 0.01 * len(fashion.val)


def test_mnist_idx_files_from_a_directory(tmp_path) -> None:
    data = load_dataset("mnist", fake_mnist(tmp_path), val_size=20)
    assert (len(data.train), len(data.val), len(data.test)) == (100, 20, 30)


def test_the_test_split_alone_needs_only_the_test_files(tmp_path) -> None:
    whole = load_dataset("mnist", fake_mnist(tmp_path), val_size=20).test
    for name in FILES[:2]:
        (tmp_path / name).unlink()
    test = load_test_split("mnist", tmp_path)
    assert torch.equal(test.x, whole.x) and torch.equal(test.y, whole.y) and test.name == "test"
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz not found"):
        load_dataset("mnist", tmp_path)


def test_gzipped_files_are_read_too(tmp_path) -> None:
    fake_mnist(tmp_path)
    for name in FILES:
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
        (tmp_path / name).unlink()
    assert len(load_dataset("mnist", tmp_path, val_size=20).test) == 30


def test_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; expected one of fashion-mnist, mnist, cifar10"):
        load_dataset("imagenet")


def test_missing_directory_says_how_to_get_the_data(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=f"data directory {tmp_path}/none does not exist; pass --data-dir"):
        load_dataset("mnist", tmp_path / "none")
    with pytest.raises(ValueError, match="dataset 'mnist' needs --data-dir"):
        load_dataset("mnist")


def test_missing_file_is_named(tmp_path) -> None:
    fake_mnist(tmp_path)
    (tmp_path / FILES[3]).unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz not found"):
        load_dataset("mnist", tmp_path)


def test_truncated_file(tmp_path) -> None:
    fake_mnist(tmp_path)
    path = tmp_path / FILES[0]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte holds .* its header promises .* truncated"):
        load_dataset("mnist", tmp_path)


def test_wrong_magic_number(tmp_path) -> None:
    fake_mnist(tmp_path)
    write_idx(tmp_path / FILES[1], np.zeros(120), magic=bytes([0, 0, 0x0D, 1]))  # float data
    expected = r"train-labels-idx1-ubyte is not an IDX file .*bad magic number 00000d01, expected 00000801"
    with pytest.raises(ValueError, match=expected):
        load_dataset("mnist", tmp_path)


def test_corrupt_gzip(tmp_path) -> None:
    fake_mnist(tmp_path)
    (tmp_path / FILES[2]).unlink()
    (tmp_path / f"{FILES[2]}.gz").write_bytes(b"\x1f\x8b this is not gzip")
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz is corrupt"):
        load_dataset("mnist", tmp_path)


def test_a_file_of_another_user_s_is_not_called_corrupt(tmp_path, monkeypatch) -> None:
    """Whole but unreadable to this user (root, who runs the tests, reads every file, so the system's
    refusal is played here): the PermissionError that names it, which the commands say in one line;
    before, "... is corrupt ([Errno 13] Permission denied ...)" sent its owner after a new copy."""
    fake_mnist(tmp_path)
    theirs, read_bytes = tmp_path / FILES[2], Path.read_bytes

    def refusing(path: Path) -> bytes:
        if path == theirs:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refusing)
    with pytest.raises(PermissionError) as refused:
        load_dataset("mnist", tmp_path)
    assert refused.value.filename == str(theirs)


def test_images_and_labels_count_mismatch(tmp_path) -> None:
    fake_mnist(tmp_path)
    write_idx(tmp_path / FILES[3], np.zeros(29))
    with pytest.raises(ValueError, match="t10k images \\(30\\) and labels \\(29\\) differ in count"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("file", [FILES[1], FILES[3]])
def test_a_label_beyond_the_classes_is_refused_with_where_it_is(file: str, tmp_path) -> None:
    fake_mnist(tmp_path)
    labels = np.zeros(120 if file == FILES[1] else 30)
    labels[7] = 77  # a damaged byte: a 78-class output layer, had the labels been trusted
    write_idx(tmp_path / file, labels)
    expected = f"{file} holds label 77 at index 7, but mnist has 10 classes (0 to 9); the file is corrupt"
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_dataset("mnist", tmp_path)
    if file == FILES[3]:
        with pytest.raises(ValueError, match=re.escape(expected)):
            load_test_split("mnist", tmp_path)  # what predict reads


def test_the_classes_are_the_dataset_s_not_the_labels_seen(tmp_path) -> None:
    fake_mnist(tmp_path)
    for file, count in ((FILES[1], 120), (FILES[3], 30)):
        write_idx(tmp_path / file, np.arange(count) % 5)  # a subset without the classes 5 to 9
    assert load_dataset("mnist", tmp_path, val_size=20).num_classes == 10


def test_cifar10_missing_batches_are_named(tmp_path) -> None:
    how = r"; pass --data-dir with the python version of CIFAR-10 \(cifar-10-batches-py/ or its content\)$"
    with pytest.raises(FileNotFoundError, match=rf"^{tmp_path} holds no cifar-10-batches-py/ folder{how}"):
        load_dataset("cifar10", tmp_path)  # not torchvision's "You can use download=True": nothing downloads
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match=rf"^{folder}/data_batch_1 not found{how}"):
        load_dataset("cifar10", folder)  # the folder itself is taken too
    (folder / "data_batch_1").write_bytes(b"not a batch")
    with pytest.raises(ValueError, match=rf"^{folder}/data_batch_1 is corrupt \(its MD5 sum is not CIFAR-10's\){how}"):
        load_dataset("cifar10", tmp_path)


def test_debian_fashion_mnist_files_are_where_we_expect() -> None:
    assert all((Path(FASHION_MNIST_DIR) / f"{name}.gz").is_file() for name in FILES), \
        "install Debian's dataset-fashion-mnist (make test does this when run as root)"


def test_a_copy_of_fashion_mnist_in_another_directory(tmp_path) -> None:
    for name in FILES:
        shutil.copy(Path(FASHION_MNIST_DIR) / f"{name}.gz", tmp_path)
    assert len(load_dataset("fashion-mnist", tmp_path).test) == 10000


# ---- a dataset of one's own: a folder of image files per class ----

def image_folders(root: Path, train: int = 10, test: int = 4, val: int = 0) -> Path:
    """DIR/train/<class>/*.png and DIR/test/<class>/*.png (and DIR/val/<class>/*.png with `val`):
    grey 28x28 images, each class its own brightness (class i: pixel values near 60 + 60 i), so
    that the labels are checkable."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test), ("val", val)):
        if not count:
            continue
        for label, name in enumerate(("shoe", "bag", "coat")):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = (60 + 60 * label + rng.integers(-5, 6, (28, 28))).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:03d}.png")
    return root


def test_a_folder_of_image_files_per_class_is_a_dataset(tmp_path) -> None:
    from PIL import Image

    root = image_folders(tmp_path)
    (root / "train" / "bag" / "notes.txt").write_text("not an image: left out")
    (root / "train" / "bag" / "._000.png").write_bytes(b"a Mac's resource fork: left out")
    (root / "train" / ".cache").mkdir()  # a hidden folder is no class
    Image.fromarray(np.full((56, 40), 180, np.uint8)).save(root / "train" / "coat" / "large.png")  # scaled to 28x28
    shutil.rmtree(root / "test" / "bag")  # a class without test images
    data = load_dataset("folder", root)
    assert data.class_names == ("bag", "coat", "shoe") and data.num_classes == 3  # train's folders, in name order
    assert data.input_shape == (1, 28, 28)  # the size most of them have; grey, as all are
    assert (len(data.train), len(data.val), len(data.test)) == (25, 6, 8)  # a fifth of 31 for validation
    assert data.normalisation is not None
    (mean,), (std,) = data.normalisation
    pixels = np.concatenate([np.asarray(Image.open(f)).ravel() for f in sorted((root / "train").glob("*/[!.]*.png"))
                             if Image.open(f).size == (28, 28)] + [np.full(28 * 28, 180)])  # the large one, scaled
    assert mean == pytest.approx(pixels.mean() / 255, abs=1e-3) and std == pytest.approx(pixels.std() / 255, abs=1e-3)
    for split in (data.train, data.val, data.test):
        raw = split.x * std + mean  # back to 0-1
        brightness = raw.flatten(1).mean(1) * 255
        expected = torch.tensor([120.0, 180.0, 60.0])[split.y]  # bag 120, coat 180, shoe 60: each under its label
        assert torch.allclose(brightness, expected, atol=3), (split.name, brightness, split.y)
    assert set(data.test.y.tolist()) == {1, 2}  # coat and shoe: labels are train's
    again = load_dataset("folder", root)
    assert torch.equal(again.val.x, data.val.x)  # the same validation split each time


def test_a_val_folder_beside_train_and_test_is_the_validation_split(tmp_path) -> None:
    # as a dataset's own validation split often comes (train/, val/, test/), and as an npz file's may
    root = image_folders(tmp_path, train=10, test=4, val=3)
    shutil.rmtree(root / "val" / "coat")  # a class without validation images
    data = load_dataset("folder", root)
    assert (len(data.train), len(data.val), len(data.test)) == (30, 6, 12)  # every training image trains
    held_out = load_dataset("folder", image_folders(tmp_path / "without", train=10, test=4))
    assert data.normalisation == held_out.normalisation  # the training images' own, as without val/ ...
    assert len(held_out.train) == 24  # ... where a fifth of them were held out
    (mean,), (std,) = data.normalisation
    brightness = (data.val.x * std + mean).flatten(1).mean(1) * 255
    assert torch.allclose(brightness, torch.tensor([120.0, 180.0, 60.0])[data.val.y], atol=3)  # its labels are train's
    assert set(data.val.y.tolist()) == {0, 2}  # bag and shoe
    with pytest.raises(ValueError, match=rf"^{re.escape(str(root))}/val is the validation split: give no val_size"):
        load_dataset("folder", root, val_size=5)
    (root / "val" / "shirt").mkdir()
    with pytest.raises(ValueError, match=rf"^{re.escape(str(root))}/val has class folder\(s\) shirt that the training "
                                         r"images lack; the classes are bag, coat, shoe$"):
        load_dataset("folder", root)


def test_reading_a_folder_dataset_shows_a_bar_at_a_terminal_and_nothing_in_a_log(tmp_path, monkeypatch,
                                                                                   capsys) -> None:
    import sys

    root = image_folders(tmp_path)
    load_dataset("folder", root)
    assert capsys.readouterr().err == ""  # a log: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    load_dataset("folder", root)
    err = capsys.readouterr().err
    assert f"reading {root}/train:   0%|" in err and "| 0/30 [" in err and f"reading {root}/test:" in err, err
    assert err.endswith("\r" + " " * (len(err) - err.rindex("\r") - 1)), repr(err[-200:])  # wiped as it ends


def test_a_folder_dataset_s_input_is_its_usual_size_at_most_64_and_grey_only_when_all_are(tmp_path) -> None:
    from PIL import Image

    from nas_pattern.images import common_shape

    files = []
    for i, (size, mode) in enumerate([((400, 300), "L"), ((400, 300), "L"), ((28, 28), "L"), ((400, 300), "RGB")]):
        files.append(str(tmp_path / f"{i}.png"))
        Image.new(mode, size).save(files[-1])
    assert common_shape(files, 64) == (3, 48, 64)  # 400x300, scaled to 64 on its longer side; one is RGB
    assert common_shape(files[:3], 64) == (1, 48, 64)
    assert common_shape(files[2:3], 64) == (1, 28, 28)  # smaller than 64: its own size


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda root: shutil.rmtree(root / "train" / "bag") or shutil.rmtree(root / "train" / "coat"), ValueError,
     r"^{root}/train holds 1 class folder\(s\), a classifier needs 2 or more; pass --data-dir with a train/"),
    (lambda root: shutil.rmtree(root / "train"), FileNotFoundError, r"^{root}/train is not a folder; pass --data-dir"),
    (lambda root: shutil.rmtree(root / "test"), FileNotFoundError, r"^{root}/test is not a folder; pass --data-dir"),
    (lambda root: (root / "test" / "shirt").mkdir(), ValueError,
     r"^{root}/test has class folder\(s\) shirt that the training images lack; the classes are bag, coat, shoe$"),
    (lambda root: (root / "train" / "coat" / "004.png").write_bytes(b"torn"), ValueError,
     r"^{root}/train/coat/004.png: not an image Pillow can read"),
    (lambda root: (root / "train" / "empty").mkdir(), ValueError,
     r"^{root}/train/empty: a folder with no image files in it"),
])
def test_a_malformed_image_folder_is_one_line_naming_what_is_wrong(make, error, message, tmp_path) -> None:
    root = image_folders(tmp_path)
    make(root)
    with pytest.raises(error, match=message.format(root=re.escape(str(root)))):
        load_dataset("folder", root)


def test_a_folder_of_a_few_images_still_holds_one_out_for_validation(tmp_path) -> None:
    data = load_dataset("folder", image_folders(tmp_path / "photos", train=1, test=1))  # 3 training images, one a class
    assert (len(data.train), len(data.val)) == (2, 1)
    (tmp_path / "mnist").mkdir()
    with pytest.raises(ValueError, match=r"^1 training image\(s\): too few to hold some out for validation$"):
        load_dataset("mnist", fake_mnist(tmp_path / "mnist", train=1))


def test_a_folder_dataset_needs_its_folder() -> None:
    with pytest.raises(ValueError, match=r"^dataset 'folder' needs --data-dir: pass --data-dir with a train/ and a "
                                         r"test/ folder, each with a folder of image files per class"):
        load_dataset("folder")


def test_images_held_in_memory_are_a_dataset_made_as_a_folder_dataset_is() -> None:
    """Dataset.from_images: a user with images in memory (numpy, tensors) had to build the splits by
    hand, and a Dataset made so carried no normalisation, so a model found on it took raw pixels as
    if unnormalised (its predict() and best.onnx were wrong, silently)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    images = (np.array([40, 130, 220])[labels, None, None, None] + rng.integers(-20, 20, (40, 12, 10, 3)))  # NHWC
    test_labels = np.array([2, 0, 1, 2])
    test = np.array([40, 130, 220])[test_labels, None, None, None] + np.zeros((4, 12, 10, 3), np.int64)
    data = Dataset.from_images(images, labels, test.astype(np.float32), torch.from_numpy(test_labels),
                               class_names=["dark", "middle", "light"], name="greys")
    assert data.name == "greys" and data.class_names == ("dark", "middle", "light") and data.num_classes == 3
    assert data.input_shape == (3, 12, 10)  # channels last, as numpy and PIL hold them, made first
    assert (len(data.train), len(data.val), len(data.test)) == (32, 8, 4)  # a fifth held out for validation
    assert data.normalisation is not None
    mean, std = (np.array(part) for part in data.normalisation)
    assert np.allclose(mean, images.mean(axis=(0, 1, 2)) / 255, atol=1e-6)
    assert np.allclose(std, images.std(axis=(0, 1, 2)) / 255, atol=1e-6)  # of the training images, channel by channel
    for split in (data.train, data.val, data.test):
        raw = split.x * torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) + torch.tensor(
            mean, dtype=torch.float32).view(1, 3, 1, 1)
        brightness = raw.flatten(1).mean(1) * 255
        assert torch.allclose(brightness, torch.tensor([40.0, 130.0, 220.0])[split.y], atol=4), split.name
    assert data.test.y.tolist() == [2, 0, 1, 2]
    grey = Dataset.from_images(images[..., 0].tolist(), labels, test[..., 0], test_labels, val_size=5)  # (N, H, W)
    assert grey.input_shape == (1, 12, 10) and len(grey.val) == 5 and grey.num_classes == 3 and grey.class_names == ()
    again = Dataset.from_images(images.transpose(0, 3, 1, 2), labels, test.transpose(0, 3, 1, 2), test_labels)
    assert torch.equal(again.val.x, data.val.x) and torch.equal(again.train.y, data.train.y)  # NCHW: the same
    own = Dataset.from_images(images[:30], labels[:30], test, test_labels, val_images=images[30:],
                              val_labels=labels[30:])  # a validation split of one's own: none held out
    assert (len(own.train), len(own.val), len(own.test)) == (30, 10, 4) and own.val.y.tolist() == labels[30:].tolist()
    assert own.normalisation is not None and np.allclose(own.normalisation[0], images[:30].mean(axis=(0, 1, 2)) / 255)
    scale = torch.tensor(own.normalisation[1], dtype=torch.float32).view(1, 3, 1, 1)
    shift = torch.tensor(own.normalisation[0], dtype=torch.float32).view(1, 3, 1, 1)
    raw = torch.from_numpy(images[30:].transpose(0, 3, 1, 2)).float()
    assert torch.allclose((own.val.x * scale + shift) * 255, raw, atol=1e-3)  # by the training images' statistics


def test_numpy_arrays_in_an_npz_file_are_a_dataset_made_as_from_images_makes_them(tmp_path) -> None:
    """--dataset npz --data-dir FILE: images held as numpy arrays, written with numpy.savez, searched
    from the command line (and so recorded, resumed, retrained and tested from their file), where
    Dataset.from_images alone had no file to read them again from."""
    rng = np.random.default_rng(1)
    labels, val_labels, test_labels = rng.integers(0, 3, 30), rng.integers(0, 3, 9), rng.integers(0, 3, 6)
    images, val, test = (rng.integers(0, 256, (len(y), 12, 10, 3), dtype=np.uint8)
                         for y in (labels, val_labels, test_labels))
    path = tmp_path / "mine.npz"
    np.savez_compressed(path, train_images=images, train_labels=labels, test_images=test, test_labels=test_labels,
                        val_images=val, val_labels=val_labels, class_names=["cat", "dog", "fox"])
    data = load_dataset("npz", path)
    given = Dataset.from_images(images, labels, test, test_labels, class_names=("cat", "dog", "fox"),
                                val_images=val, val_labels=val_labels)
    assert (data.name, data.class_names, data.input_shape, data.num_classes) == ("npz", ("cat", "dog", "fox"),
                                                                                (3, 12, 10), 3)
    assert data.directory == str(path.resolve()) and data.normalisation == given.normalisation
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(data, split).x, getattr(given, split).x), split
        assert torch.equal(getattr(data, split).y, getattr(given, split).y), split
    test_split = load_test_split("npz", path, input_shape=data.input_shape, normalisation=data.normalisation,
                                 classes=data.class_names)  # as predict tests a model found on it
    assert torch.equal(test_split.x, data.test.x) and torch.equal(test_split.y, data.test.y)
    np.savez(path, train_images=images[..., 0], train_labels=labels, test_images=test[..., 0], test_labels=test_labels)
    grey = load_dataset("npz", path)  # the least: no validation split (a fifth held out), no class names
    assert (len(grey.train), len(grey.val), grey.input_shape, grey.class_names) == (24, 6, (1, 12, 10), ())
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: test_images are 1x12x10 \(C x H x W\), the "
                                         r"model's input 3x12x10$"):  # another file in the model's file's place
        load_test_split("npz", path, input_shape=(3, 12, 10), normalisation=data.normalisation, classes=("a", "b"))


def _npz_file(tmp_path: Path, name: str) -> Path:
    """A file at `name` that is not an npz dataset: the case of that name in the test below."""
    path, rng = tmp_path / name, np.random.default_rng(0)
    arrays = dict(train_images=rng.integers(0, 256, (10, 8, 8)), train_labels=np.arange(10) % 2,
                  test_images=np.zeros((2, 8, 8)), test_labels=[0, 1])
    if name == "mine.npz":
        np.savez(path, x_train=arrays["train_images"], y_train=arrays["train_labels"])
    elif name == "extra.npz":
        np.savez(path, **arrays, weights=np.ones(3))
    elif name == "objects.npz":
        np.savez(path, **{**arrays, "test_labels": np.array([0, "1", None], dtype=object)})
    elif name == "names.npz":
        np.savez(path, **arrays, class_names=[["a", "b"]])
    elif name == "scaled.npz":
        np.savez(path, **{**arrays, "train_images": arrays["train_images"] / 255})
    elif name == "one.npy":
        np.save(path, arrays["train_images"])
    elif name == "half.npz":
        np.savez(path, **arrays)
        path.write_bytes(path.read_bytes()[:300])
    elif name == "text.npz":
        path.write_text("train_images,train_labels\n")
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize(("name", "error", "message"), [
    ("mine.npz", ValueError, " lacks train_images, train_labels, test_images, test_labels (it holds x_train, y_train); "
                             "pass --data-dir with an .npz file of raw pixels 0-255 and labels, as numpy.savez(FILE, "
                             "train_images=..., train_labels=..., test_images=..., test_labels=...) writes it "
                             "(optionally val_images, val_labels and class_names too)"),
    ("extra.npz", ValueError, " holds weights, which nas-pattern does not read; pass --data-dir with an .npz file"),
    ("objects.npz", ValueError, ": test_labels cannot be read (Object arrays cannot be loaded when allow_pickle=False"),
    ("names.npz", ValueError, ": class_names must be a list of names, one per class; got the shape (1, 2)"),
    ("scaled.npz", ValueError, ": train_images must be raw pixel values 0-255, as image files hold them; these look "
                               "scaled to [0, 1] already"),
    ("one.npy", ValueError, " is one array (numpy.save), not named arrays; pass --data-dir with an .npz file"),
    ("half.npz", ValueError, " is corrupt (File is not a zip file); pass --data-dir with an .npz file"),
    ("text.npz", ValueError, " is not an .npz file; pass --data-dir with an .npz file"),
    ("folder", FileNotFoundError, " is a folder; pass --data-dir with an .npz file"),
])
def test_a_file_that_is_not_an_npz_dataset_is_one_line_naming_it_and_what_is_wrong(
        name: str, error: type, message: str, tmp_path) -> None:
    path = _npz_file(tmp_path, name)
    with pytest.raises(error, match=f"^{re.escape(str(path) + message)}") as raised:
        load_dataset("npz", path)
    assert "\n" not in str(raised.value)


def test_an_npz_dataset_needs_its_file(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"^dataset 'npz' needs --data-dir: pass --data-dir with an \.npz file"):
        load_dataset("npz")
    with pytest.raises(FileNotFoundError, match=rf"^{re.escape(str(tmp_path / 'gone.npz'))} is not there; pass "):
        load_dataset("npz", tmp_path / "gone.npz")


@pytest.mark.parametrize(("change", "message"), [
    (dict(name="mnist"), "name 'mnist' is a dataset load_dataset reads from its files; call yours otherwise"),
    (dict(train_images=np.zeros((6, 4, 5, 5))), r"train_images must be \(N, C, H, W\) of 1 or 3 channels, "
                                                r"\(N, H, W, C\) or \(N, H, W\), N > 0; got the shape \(6, 4, 5, 5\)"),
    (dict(train_images=np.full((6, 8, 8), 300)), r"train_images must be raw pixel values 0-255, as image files hold "
                                                 r"them \(nas-pattern normalises them\), got values from 300 "),
    (dict(test_images=np.full((2, 8, 8), -0.4)), r"test_images must be raw pixel values 0-255, as image files hold "
                                                 r"them \(nas-pattern normalises them\), got values from -0\.4 "),
    (dict(train_images=np.full((6, 8, 8), 0.5)), r"train_images must be raw pixel values 0-255, as image files hold "
                                                 r"them; these look scaled to \[0, 1\] already \(values from 0\.5 to "
                                                 r"0\.5, not whole\): multiply by 255$"),
    (dict(train_images=np.full((6, 8, 8), "a")), "train_images must be numbers, raw pixel values 0-255; got an array"),
    (dict(test_images=np.zeros((2, 9, 8))), r"test_images are 1x9x8 \(C x H x W\), train_images 1x8x8: they must be"),
    (dict(train_labels=[0, 1, 0]), r"train_labels must be 6 whole numbers, one per image, 0 to K - 1; got int64 of "
                                   r"the shape \(3,\)"),
    (dict(test_labels=[0, 3], class_names=("a", "b", "c")),
     r"test_labels holds 3, not a class of the 3 class_names \(0 to 2\)"),
    (dict(train_labels=[0, -1, 0, 1, 0, 1]), r"train_labels holds -1, not a class \(0 to K - 1\)"),
    (dict(train_labels=[0] * 6, test_labels=[0, 0]), "the labels are of 1 class, a classifier needs 2 or more"),
    (dict(val_images=np.zeros((2, 8, 8))), r"give val_images with val_labels \(the validation split\), or val_size"),
    (dict(val_images=np.zeros((2, 8, 8)), val_labels=[0, 1], val_size=2), "give val_images with val_labels"),
    (dict(val_images=np.zeros((2, 8, 9)), val_labels=[0, 1]), r"val_images are 1x8x9 \(C x H x W\), train_images "),
    (dict(val_images=np.zeros((2, 8, 8)), val_labels=[0, 5], class_names="ab"),
     r"val_labels holds 5, not a class of the 2 class_names \(0 to 1\)"),
])
def test_images_from_python_that_are_not_raw_pixels_with_labels_are_one_line_naming_what_is_wrong(
        change: dict, message: str) -> None:
    given = dict(train_images=np.zeros((6, 8, 8), np.uint8), train_labels=[0, 1, 0, 1, 0, 1],
                 test_images=np.zeros((2, 8, 8), np.uint8), test_labels=[0, 1])
    with pytest.raises(ValueError, match=f"^{message}") as error:
        Dataset.from_images(**{**given, **change})
    assert "\n" not in str(error.value)

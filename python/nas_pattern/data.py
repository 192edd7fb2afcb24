"""Data for the child networks: train, validation and test splits as tensors in memory.

Nothing is downloaded. Fashion-MNIST comes from Debian's `dataset-fashion-mnist` IDX files,
MNIST from IDX files in a directory the user names, CIFAR-10 from the python-pickle batches,
a dataset of one's own from image files in a folder per class ("folder") or from numpy arrays in
an .npz file ("npz"), and one held in memory from Python (Dataset.from_images). The validation
split is carved from the training set with a fixed seed; rewards are scored on it. The test split
is touched only to report the final architecture.

One piece: every dataset, read from its files or given from Python, becomes the same three splits,
normalised and held out the same way; the readers and the splits change together.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FOLDER = "folder"  # a dataset of one's own: DIR/train/<class>/<image files>, DIR/test/<class>/..., DIR/val/...
NPZ = "npz"  # a dataset of one's own as numpy arrays in one file (numpy.savez): NPZ_ARRAYS, and NPZ_OPTIONAL
NPZ_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
NPZ_OPTIONAL = ("val_images", "val_labels", "class_names")
DATASETS = ("fashion-mnist", "mnist", "cifar10", FOLDER, NPZ)
# What each label means, by label: predict's report, best.onnx's metadata and the JVM's FoundModel name them
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "mnist": tuple(str(digit) for digit in range(10)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}
NUM_CLASSES = {name: len(names) for name, names in CLASS_NAMES.items()}  # a label file's labels are below these
VALIDATION_SIZE = 5000  # images held out of the training set for rewards (a fifth of a smaller one)
SPLIT_SEED = 0  # fixed, so every run of a dataset sees the same validation split

# Per-channel mean and std of the training images (pixel values scaled to [0, 1]).
Normalisation = tuple[tuple[float, ...], tuple[float, ...]] | None  # (mean, std), None: not normalised
PIXEL_STATS = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

_HOW_TO_GET = {
    "fashion-mnist": f"install Debian's dataset-fashion-mnist (files go to {FASHION_MNIST_DIR}) "
                     "or pass --data-dir with its IDX files",
    "mnist": "pass --data-dir with the MNIST IDX files (train-images-idx3-ubyte[.gz], ...)",
    "cifar10": "pass --data-dir with the python version of CIFAR-10 (cifar-10-batches-py/ or its content)",
    FOLDER: "pass --data-dir with a train/ and a test/ folder, each with a folder of image files per class "
            "(train/cat/1.png, ..., test/cat/7.png, ...), and optionally a val/ folder of the same kind",
    NPZ: "pass --data-dir with an .npz file of raw pixels 0-255 and labels, as numpy.savez(FILE, train_images=..., "
         "train_labels=..., test_images=..., test_labels=...) writes it (optionally val_images, val_labels and "
         "class_names too)",
}
# A folder dataset's input: the size most of its training images have, scaled down to at most this
# side (a folder of photos makes no 4032x3024 input), grey where every one of them is grey.
FOLDER_SIDE = 64


class Split(NamedTuple):
    """Images and labels of one split."""

    x: torch.Tensor  # (N, C, H, W) float32, normalised
    y: torch.Tensor  # (N,) int64 class indices
    name: str = ""  # "train", "val" or "test": which split of the dataset this is

    def __len__(self) -> int:
        return len(self.y)

    def join(self, other: Split, name: str) -> Split:
        """This split's images followed by `other`'s (train + validation, for a final training)."""
        return Split(torch.cat([self.x, other.x]), torch.cat([self.y, other.y]), name)

    def head(self, limit: int | None) -> Split:
        """The first `limit` examples (all of them when limit is None)."""
        return self if limit is None else Split(self.x[:limit], self.y[:limit], self.name)


@dataclass(frozen=True)
class Dataset:
    """The three splits of one dataset, and what a child network needs to know about it."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    class_names: tuple[str, ...] = ()  # what each label means, where the name does not say (a folder dataset's)
    # The (mean, std) the splits were normalised with, which a model found on them keeps to take raw pixels.
    # None: the name's (PIXEL_STATS); for a name not there, none: the splits hold pixels / 255.
    normalisation: Normalisation = None
    directory: str | None = None  # the absolute path of its files, where it was read from files

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        c, h, w = self.train.x.shape[1:]
        return (int(c), int(h), int(w))

    @classmethod
    def from_images(cls, train_images: Any, train_labels: Any, test_images: Any, test_labels: Any, *,
                    class_names: Sequence[str] = (), name: str = "images", val_size: int | None = None,
                    val_images: Any = None, val_labels: Any = None) -> Dataset:
        """A dataset of images held in memory (numpy arrays, tensors, nested lists): raw pixel values
        0-255, as (N, C, H, W) of 1 or 3 channels, (N, H, W, C), or (N, H, W) of one channel; labels
        0 to K - 1, K being len(class_names), else the largest label + 1. Made as a folder dataset
        is: normalised by the training images' own mean and standard deviation, channel by channel
        (recorded, so that a model found on it takes raw pixels: FoundModel.predict, best.onnx), and
        `val_size` of them (default: a fifth, at most 5,000) held out for validation with the fixed
        seed, or, given `val_images` and `val_labels`, those are the validation split. `name` is
        what the model's card calls it (not one load_dataset reads: those are read from their
        files). ValueError in one line for images or labels that are not such."""
        if name in DATASETS:
            raise ValueError(f"name {name!r} is a dataset load_dataset reads from its files; call yours otherwise")
        return _of_arrays(name, train_images, train_labels, test_images, test_labels, class_names, val_size,
                          val_images, val_labels)


def _of_arrays(name: str, train_images: Any, train_labels: Any, test_images: Any, test_labels: Any,
               class_names: Sequence[str], val_size: int | None, val_images: Any, val_labels: Any) -> Dataset:
    """Dataset.from_images's dataset, of any name (an .npz dataset's too)."""
    if (val_images is None) != (val_labels is None) or (val_images is not None and val_size is not None):
        raise ValueError("give val_images with val_labels (the validation split), or val_size (how many "
                         "training images to hold out), or neither")
    names = tuple(str(label) for label in class_names)
    splits = {"train": (train_images, train_labels), "test": (test_images, test_labels)}
    if val_images is not None:
        splits["val"] = (val_images, val_labels)
    pixels = {split: _raw_pixels(images, f"{split}_images") for split, (images, _) in splits.items()}
    for split, images in pixels.items():
        if images.shape[1:] != pixels["train"].shape[1:]:
            raise ValueError(f"{split}_images are {'x'.join(map(str, images.shape[1:]))} (C x H x W), "
                             f"train_images {'x'.join(map(str, pixels['train'].shape[1:]))}: they must be the same")
    labels = {split: _labels(given, len(pixels[split]), len(names), f"{split}_labels")
              for split, (_, given) in splits.items()}
    classes = len(names) or int(max(given.max() for given in labels.values())) + 1
    if classes < 2:
        raise ValueError(f"the labels are of {classes} class, a classifier needs 2 or more")
    val = (pixels["val"], labels["val"]) if "val" in pixels else None
    return _of_pixels(name, pixels["train"], labels["train"], pixels["test"], labels["test"], classes, names,
                      val_size, val)


def load_dataset(name: str, data_dir: str | Path | None = None, val_size: int | None = None) -> Dataset:
    """Load `name` from disk and split it (`val_size` validation images: by default 5,000, or a
    fifth of a training set smaller than 25,000); FileNotFoundError/ValueError say which file and
    how to get it."""
    directory = _directory(name, data_dir)
    if name == FOLDER:
        return _load_folder(directory, val_size)
    if name == NPZ:
        return _load_npz(directory, val_size)
    train_x, train_y = _read(name, directory, train=True)
    test = load_test_split(name, directory)
    val_idx, train_idx = _validation(len(train_y), val_size)
    mean, std = PIXEL_STATS[name]
    return Dataset(
        name=name,
        train=to_split(train_x[train_idx], train_y[train_idx], mean, std, "train"),
        val=to_split(train_x[val_idx], train_y[val_idx], mean, std, "val"),
        test=test,
        num_classes=NUM_CLASSES[name],
        normalisation=PIXEL_STATS[name],
        directory=str(directory.resolve()),
    )


def _validation(count: int, val_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the validation and the training images among `count`, drawn with SPLIT_SEED."""
    if val_size is None:
        val_size = min(VALIDATION_SIZE, max(1, count // 5))
    if not 0 < val_size < count:
        raise ValueError(f"validation size must be between 1 and {count - 1}, got {val_size}" if count > 1 else
                         f"{count} training image(s): too few to hold some out for validation")
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    return order[:val_size], order[val_size:]


def load_test_split(name: str, data_dir: str | Path | None = None, *, input_shape: tuple[int, int, int] | None = None,
                    normalisation: Normalisation = None, classes: tuple[str, ...] = ()) -> Split:
    """The test split of `name`, load_dataset's own: the training files are not read (a machine that
    only tests a saved model needs only the test files). A folder dataset's test images are made
    the input of the model (its `input_shape`, `normalisation` and `classes`, which it needs)."""
    directory = _directory(name, data_dir)
    if name == FOLDER:
        if input_shape is None or not classes:
            raise ValueError("a folder dataset's test split needs the model's input shape and classes")
        images, labels = _folder_split(directory, "test", classes, input_shape)
        return to_split(images, labels, *(normalisation or ((0.0,), (1.0,))), "test")
    if name == NPZ:
        if input_shape is None:
            raise ValueError("an npz dataset's test split needs the model's input shape")
        return to_split(*_npz_test(directory, input_shape, len(classes)), *(normalisation or ((0.0,), (1.0,))), "test")
    return to_split(*_read(name, directory, train=False), *PIXEL_STATS[name], "test")


def _load_folder(directory: Path, val_size: int | None) -> Dataset:
    """A dataset of image files, a folder for each class: DIR/train/<class>/..., DIR/test/<class>/...,
    and optionally DIR/val/<class>/..., the validation split (else it is held out of train). The
    classes are train's folders, in name order; test and val may lack some of them, but hold no
    others. Each image is made the input as predict makes an image file (upright, on white where
    transparent, scaled to fit with its aspect kept), the input being the size most training images
    have (at most FOLDER_SIDE on a side), grey where they all are. The splits are normalised by the
    training images' mean and standard deviation, channel by channel."""
    from nas_pattern.images import class_folders, common_shape, dataset_images, folder_files

    classes = class_folders(directory / "train", _HOW_TO_GET[FOLDER])
    if len(classes) < 2:
        raise ValueError(f"{directory / 'train'} holds {len(classes)} class folder(s), a classifier needs 2 or more; "
                         f"{_HOW_TO_GET[FOLDER]}")
    files, labels = folder_files(directory / "train", classes, _HOW_TO_GET[FOLDER])
    shape = common_shape(files, FOLDER_SIDE)
    images = dataset_images(files, shape, f"{directory / 'train'}")
    val = None
    if (directory / "val").is_dir():
        if val_size is not None:
            raise ValueError(f"{directory / 'val'} is the validation split: give no val_size (how many training "
                             "images to hold out) with it")
        val = _folder_split(directory, "val", classes, shape)
    data = _of_pixels(FOLDER, images, labels, *_folder_split(directory, "test", classes, shape), len(classes),
                      classes, val_size, val)
    return replace(data, directory=str(directory.resolve()))


def _folder_split(directory: Path, split: str, classes: tuple[str, ...],
                  shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A folder dataset's images of `split` (its folder's name, "test" or "val"), as raw pixels of
    the input `shape`, and their labels."""
    from nas_pattern.images import dataset_images, folder_files

    files, labels = folder_files(directory / split, classes, _HOW_TO_GET[FOLDER])
    return dataset_images(files, shape, f"{directory / split}"), labels


def _load_npz(path: Path, val_size: int | None) -> Dataset:
    """A dataset of numpy arrays in one .npz file: Dataset.from_images's arrays under their names
    (NPZ_ARRAYS, and NPZ_OPTIONAL where given), made as from_images makes them."""
    arrays = _npz(path, NPZ_ARRAYS + NPZ_OPTIONAL)
    names = arrays.get("class_names", np.array([], dtype=str))
    if names.ndim != 1:
        raise ValueError(f"{path}: class_names must be a list of names, one per class; got the shape {names.shape}")
    try:
        data = _of_arrays(NPZ, arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                          arrays["test_labels"], tuple(str(n) for n in names), val_size, arrays.get("val_images"),
                          arrays.get("val_labels"))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return replace(data, directory=str(path.resolve()))


def _npz_test(path: Path, shape: tuple[int, int, int], classes: int) -> tuple[np.ndarray, np.ndarray]:
    """An .npz dataset's test images as raw pixels of the model's input `shape`, and their labels
    (below `classes`); the training images are not read."""
    arrays = _npz(path, ("test_images", "test_labels"))
    try:
        images = _raw_pixels(arrays["test_images"], "test_images")
        if images.shape[1:] != shape:
            raise ValueError(f"test_images are {'x'.join(map(str, images.shape[1:]))} (C x H x W), the model's input "
                             f"{'x'.join(map(str, shape))}")
        return images, _labels(arrays["test_labels"], len(images), classes, "test_labels")
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _npz(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Those of the arrays `keys` that the .npz dataset `path` holds, the others not read; ValueError
    in one line for a file that is not one (numpy.savez's), lacks NPZ_ARRAYS or holds other arrays."""
    import zipfile
    import zlib

    how = _HOW_TO_GET[NPZ]
    with path.open("rb") as file:
        magic = file.read(4)
    if magic == b"\x93NUM":
        raise ValueError(f"{path} is one array (numpy.save), not named arrays; {how}")
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # what numpy takes for a zip of arrays, else it unpickles
        raise ValueError(f"{path} is not an .npz file; {how}")
    broken = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
    try:
        npz = np.load(path, allow_pickle=False)  # no pickles: reading a dataset runs none of its code
    except PermissionError:  # whole, but another user's: not corrupt (the message names the file)
        raise
    except broken as err:
        raise ValueError(f"{path} is corrupt ({err}); {how}") from None
    with npz:
        missing = [key for key in NPZ_ARRAYS if key not in npz.files]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)} (it holds {', '.join(npz.files) or 'no arrays'}); "
                             f"{how}")
        other = [key for key in npz.files if key not in NPZ_ARRAYS + NPZ_OPTIONAL]
        if other:
            raise ValueError(f"{path} holds {', '.join(other)}, which nas-pattern does not read; {how}")
        arrays = {}
        for key in (key for key in keys if key in npz.files):
            try:
                arrays[key] = npz[key]
            except broken as err:  # an array of Python objects among them: its pickle is not loaded
                raise ValueError(f"{path}: {key} cannot be read ({err}); {how}") from None
        return arrays


def _of_pixels(name: str, images: np.ndarray, labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray,
               num_classes: int, classes: tuple[str, ...], val_size: int | None,
               val: tuple[np.ndarray, np.ndarray] | None = None) -> Dataset:
    """A dataset of raw pixels (N, C, H, W) normalised by its training images' own mean and standard
    deviation, channel by channel, a validation split held out of them, or `val` (a folder dataset,
    one from Python: Dataset.from_images)."""
    channels, height, width = images.shape[1:]
    total, squares = np.zeros(channels), np.zeros(channels)
    for start in range(0, len(images), 1024):  # a chunk at a time: 50,000 RGB images of 64x64 as float64 are 4.9 GB
        chunk = images[start:start + 1024].astype(np.float64) / 255
        total += chunk.sum(axis=(0, 2, 3))
        squares += np.square(chunk).sum(axis=(0, 2, 3))
    mean = total / (len(images) * height * width)
    std = np.sqrt(np.maximum(squares / (len(images) * height * width) - mean ** 2, 0))
    stats = (tuple(float(m) for m in mean), tuple(max(float(sd), 1e-3) for sd in std))  # a blank channel: not / 0
    if val is None:
        val_idx, train_idx = _validation(len(labels), val_size)
        val, images, labels = (images[val_idx], labels[val_idx]), images[train_idx], labels[train_idx]
    return Dataset(name=name,
                   train=to_split(images, labels, *stats, "train"),
                   val=to_split(*val, *stats, "val"),
                   test=to_split(test_images, test_labels, *stats, "test"),
                   num_classes=num_classes, class_names=classes, normalisation=stats)


def _raw_pixels(images: Any, what: str) -> np.ndarray:
    """Images given from Python (Dataset.from_images) as (N, C, H, W) raw pixel values 0-255: uint8
    where they are whole, else float32; ValueError naming `what` where they are not such."""
    try:
        a = np.asarray(images.numpy(force=True) if isinstance(images, torch.Tensor) else images)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{what} must be an array of images: {err}") from None
    if a.dtype.kind not in "uif":
        raise ValueError(f"{what} must be numbers, raw pixel values 0-255; got an array of {a.dtype}")
    if a.ndim == 3:
        a = a[:, None]  # (N, 1, H, W)
    elif a.ndim == 4 and a.shape[1] not in (1, 3) and a.shape[3] in (1, 3):
        a = a.transpose(0, 3, 1, 2)  # (N, H, W, C) as numpy and PIL hold them
    if a.ndim != 4 or a.shape[1] not in (1, 3) or not len(a) or 0 in a.shape:
        raise ValueError(f"{what} must be (N, C, H, W) of 1 or 3 channels, (N, H, W, C) or (N, H, W), N > 0; "
                         f"got the shape {np.shape(images)}")
    check_raw_pixels(a, what)
    whole = a.dtype.kind in "ui" or bool((a == np.round(a)).all())
    return np.ascontiguousarray(a, dtype=np.uint8 if whole else np.float32)


def check_raw_pixels(pixels: np.ndarray | torch.Tensor, what: str) -> None:
    """ValueError in one line, naming `what`, unless `pixels` are raw pixel values 0-255 as image
    files hold them: not normalised already (NaN fails too), nor scaled to [0, 1] (fractions of a
    pixel: no raw image holds one). FoundModel.normalise's images, Dataset.from_images's."""
    low, high = (float(pixels.min()), float(pixels.max())) if math.prod(pixels.shape) else (0.0, 0.0)
    if not (low >= 0 and high <= 255):
        raise ValueError(f"{what} must be raw pixel values 0-255, as image files hold them (nas-pattern normalises "
                         f"them), got values from {low:g} to {high:g}")
    if high <= 1 and bool((pixels != pixels.round()).any()):
        raise ValueError(f"{what} must be raw pixel values 0-255, as image files hold them; these look scaled to "
                         f"[0, 1] already (values from {low:g} to {high:g}, not whole): multiply by 255")


def _labels(labels: Any, count: int, classes: int, what: str) -> np.ndarray:
    """Labels given from Python (Dataset.from_images) as int64 (N,), below `classes` where that is
    > 0; ValueError naming `what` where they are not `count` such."""
    a = np.asarray(labels.numpy(force=True) if isinstance(labels, torch.Tensor) else labels)
    if a.ndim != 1 or len(a) != count or (a.dtype.kind not in "ui" and not (
            a.dtype.kind == "f" and bool((a == np.round(a)).all()))):
        raise ValueError(f"{what} must be {count} whole numbers, one per image, 0 to K - 1; got {a.dtype} of the "
                         f"shape {a.shape}")
    a = a.astype(np.int64)
    if a.min() < 0 or (classes and a.max() >= classes):
        bad = int(a.min()) if a.min() < 0 else int(a.max())
        raise ValueError(f"{what} holds {bad}, not a class" + (f" of the {classes} class_names (0 to {classes - 1})"
                                                              if classes else " (0 to K - 1)"))
    return a


def _directory(name: str, data_dir: str | Path | None) -> Path:
    """Where `name`'s files are: `data_dir`, or Debian's folder for Fashion-MNIST; an npz dataset's
    file."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)} (a dataset given from "
                         "Python, Dataset.from_images, has no files to read it from again: numpy.savez its arrays for "
                         "--dataset npz)")
    if data_dir is None:
        if name != "fashion-mnist":
            raise ValueError(f"dataset {name!r} needs --data-dir: {_HOW_TO_GET[name]}")
        data_dir = FASHION_MNIST_DIR
    directory = Path(data_dir)
    if name == NPZ:
        if not directory.is_file():
            raise FileNotFoundError(f"{directory} is {'a folder' if directory.is_dir() else 'not there'}; "
                                    f"{_HOW_TO_GET[NPZ]}")
    elif not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist; {_HOW_TO_GET[name]}")
    return directory


def _read(name: str, directory: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 images (N, C, H, W) and labels of the training or the test files."""
    if name == "cifar10":
        return _read_cifar10(directory, train)
    stem = "train" if train else "t10k"
    images = read_idx(directory, f"{stem}-images-idx3-ubyte", name)
    labels = read_idx(directory, f"{stem}-labels-idx1-ubyte", name, classes=NUM_CLASSES[name])
    if len(images) != len(labels):
        raise ValueError(f"{directory}: {stem} images ({len(images)}) and labels ({len(labels)}) "
                         "differ in count; the files are from different datasets or corrupt")
    return images[:, None], labels  # (N, 1, H, W)


def to_split(images: np.ndarray, labels: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...],
             name: str = "") -> Split:
    """uint8 images (N, C, H, W) and their labels as a Split, normalised with `mean` and `std`: what
    from_pixels() computes, in place (one copy of a whole split, not three)."""
    means, stds = pixel_statistics((mean, std))
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255).sub_(means).div_(stds)
    return Split(x, torch.from_numpy(labels.astype(np.int64)), name)


def class_names(dataset: str, num_classes: int) -> tuple[str, ...]:
    """The name of each of a dataset's `num_classes` labels; a dataset this module does not read (a
    user's own, a test's) has its labels' numbers as their names."""
    names = CLASS_NAMES.get(dataset, ())
    return names if len(names) == num_classes else tuple(str(label) for label in range(num_classes))


def pixel_statistics(normalisation: Normalisation) -> tuple[torch.Tensor, torch.Tensor]:
    """A normalisation as (mean, std) tensors of shape (1, C, 1, 1); without one, (0, 1): none."""
    mean, std = normalisation if normalisation is not None else ((0.0,), (1.0,))
    return (torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
            torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))


def from_pixels(pixels: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Raw pixel values 0-255 as a network's input: scaled to [0, 1] and normalised as to_split() does
    (FoundModel.predict and best.onnx's graph)."""
    return (pixels / 255 - mean) / std


# IDX: big-endian magic (0, 0, dtype code, number of dimensions), then one uint32 per dimension.
_IDX_UBYTE = 0x08


def read_idx(directory: str | Path, stem: str, dataset: str = "fashion-mnist",
             classes: int | None = None) -> np.ndarray:
    """Read `stem` or `stem.gz` from `directory` as a uint8 array of the shape its header gives:
    the raw images (N, H, W) or labels (N,) of an IDX file, e.g. to hand to FoundModel.predict.
    With `classes`, a file of labels: one that is not below it is refused."""
    directory = Path(directory)
    candidates = [directory / stem, directory / f"{stem}.gz"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(f"{candidates[1]} not found (nor {candidates[0].name}); {_HOW_TO_GET[dataset]}")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except PermissionError:  # whole, but another user's: not corrupt (the message names the file)
        raise
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"{path} is corrupt ({err}); {_HOW_TO_GET[dataset]}") from None
    expected_dims = 3 if "images" in stem else 1
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != expected_dims:
        raise ValueError(f"{path} is not an IDX file of {expected_dims}-D unsigned bytes (bad magic number "
                         f"{raw[:4].hex() or 'empty'}, expected 000008{expected_dims:02x}); {_HOW_TO_GET[dataset]}")
    header = 4 + 4 * expected_dims
    if len(raw) < header:
        raise ValueError(f"{path} is truncated inside its header; {_HOW_TO_GET[dataset]}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_dims))
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise ValueError(f"{path} holds {len(raw) - header} bytes of data, its header promises {count} "
                         f"(shape {shape}); the file is truncated or corrupt; {_HOW_TO_GET[dataset]}")
    values = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()  # writable
    if classes is not None and values.size and values.max() >= classes:  # else a wider output layer, silently
        first = int(np.argmax(values >= classes))
        raise ValueError(f"{path} holds label {values[first]} at index {first}, but {dataset} has {classes} classes "
                         f"(0 to {classes - 1}); the file is corrupt; {_HOW_TO_GET[dataset]}")
    return values


def _read_cifar10(directory: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 through torchvision's loader (it checks the batches' md5 sums; download stays off)."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    root = directory.parent if directory.name == CIFAR10.base_folder else directory
    folder = root / CIFAR10.base_folder
    if not folder.is_dir():
        raise FileNotFoundError(f"{directory} holds no {CIFAR10.base_folder}/ folder; {_HOW_TO_GET['cifar10']}")
    for name, md5 in CIFAR10.train_list if train else CIFAR10.test_list:  # torchvision's one message says neither
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found; {_HOW_TO_GET['cifar10']}")
        if not check_integrity(str(folder / name), md5):
            raise ValueError(f"{folder / name} is corrupt (its MD5 sum is not CIFAR-10's); {_HOW_TO_GET['cifar10']}")
    try:
        ds = CIFAR10(str(root), train=train, download=False)
    except Exception as err:  # a batch that unpickles badly
        raise ValueError(f"{root / CIFAR10.base_folder} is corrupt ({err}); {_HOW_TO_GET['cifar10']}") from None
    return ds.data.transpose(0, 3, 1, 2), np.asarray(ds.targets, dtype=np.uint8)  # NHWC -> NCHW

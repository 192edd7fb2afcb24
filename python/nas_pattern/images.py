"""Image files as a model's input: each made as the dataset's images were made (turned upright,
on white where transparent, grey or RGB, trimmed to its thing and scaled to fit), with a note of
what was done to it. `FoundModel.read_images` reads them for its model; `python -m
nas_pattern.predict DIR IMAGE...` and the JVM's `FoundModel.readImages` go through it, and so
does a dataset of one's own (`--dataset folder`: a folder of image files per class).

One piece: every image file, predict's, the JVM's or a folder dataset's, is read by the same steps
(decoded, turned upright, filled, scaled), in order, by threads where that pays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas_pattern.files import input_error

# What shows the reading's progress: given the files, it gives them back one by one (a tqdm, say).
Progress = Callable[[Sequence[str]], Iterable[str]]


@dataclass(frozen=True, eq=False)  # an array among the fields: == is identity, not an error
class ImageFiles:
    """Image files read as a model's input (FoundModel.read_images): `files`, those named, a
    folder's image files in its place; `pixels`, (N, C, H, W) raw pixel values 0-255 (uint8), as
    FoundModel.predict takes them; `notes`, what was done to each file ("" where nothing was)."""

    files: tuple[str, ...]
    pixels: np.ndarray
    notes: tuple[str, ...]


# The datasets whose images are light things on a dark ground: an image file with a light border
# is likely the other way round, and is said to be.
LIGHT_ON_DARK = ("fashion-mnist", "mnist")
# The datasets made of one thing per image, its ground trimmed away, then scaled to fit a square of
# this share of the image's side, centred: Fashion-MNIST's products fill the 28x28 (its README's
# conversion: trim, resize the longest edge to 28, extend the shorter, negate, grey), MNIST's
# digits a 20x20 box in it. An image file is made the same way.
FRAMED = {"fashion-mnist": 1.0, "mnist": 20 / 28}
TRIM = 0.05  # what differs from the border colour by more than this share of 255 is the thing (Fashion-MNIST's 5%)
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # Pillow's modes of grey images


def image_files(paths: Sequence[str]) -> list[str]:
    """The files named, a folder's images (by the extensions Pillow reads, in name order; not its
    hidden files, such as the "._IMG_0001.JPG" a Mac leaves beside each photo) in its place;
    ValueError for a folder that holds none."""
    from PIL import Image

    files = []
    for path in paths:
        folder = Path(path)
        if folder.is_dir():
            known = Image.registered_extensions()
            images = sorted(str(f) for f in folder.iterdir()
                            if f.is_file() and f.suffix.lower() in known and not f.name.startswith("."))
            if not images:
                raise ValueError(f"{path}: a folder with no image files in it (PNG, JPEG, ...: any Pillow reads)")
            files += images
        else:
            files.append(path)
    return files


def folder_files(root: Path, classes: tuple[str, ...], how: str) -> tuple[list[str], np.ndarray]:
    """The image files of a dataset's split `root`, class folder by class folder (`classes` are
    the dataset's, by label; `root` may lack some), and their labels; ValueError for a class
    folder that is not one of them or holds no image files (`how`: how to lay the dataset out)."""
    folders = class_folders(root, how)
    if unknown := [name for name in folders if name not in classes]:
        raise ValueError(f"{root} has class folder(s) {', '.join(unknown)} that the training images lack; "
                         f"the classes are {', '.join(classes)}")
    if not folders:
        raise ValueError(f"{root} holds no class folders; {how}")
    files, labels = [], []
    for name in folders:
        images = image_files([str(root / name)])  # ValueError for a folder with none
        files += images
        labels += [classes.index(name)] * len(images)
    return files, np.asarray(labels, dtype=np.int64)


def class_folders(root: Path, how: str) -> tuple[str, ...]:
    """The names of the folders in `root`, in name order, not the hidden ones; FileNotFoundError
    where `root` is not a folder (`how`: how to lay the dataset out)."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; {how}")
    return tuple(sorted(f.name for f in root.iterdir() if f.is_dir() and not f.name.startswith(".")))


def common_shape(files: list[str], side: int) -> tuple[int, int, int]:
    """The input for a dataset of image `files`: grey (1 channel) where every one is, else RGB; the
    size most of them have, scaled down so that neither side exceeds `side`. Only the files'
    headers are read."""
    from collections import Counter

    sizes: Counter[tuple[int, int]] = Counter()
    grey = True
    for path in files:
        with _opened(path) as image:
            sizes[image.size] += 1
            grey = grey and image.mode in GREY_MODES
    (width, height), _ = sizes.most_common(1)[0]
    scale = min(1.0, side / max(width, height))
    return (1 if grey else 3, max(1, round(height * scale)), max(1, round(width * scale)))


def dataset_images(files: list[str], shape: tuple[int, int, int], what: str) -> np.ndarray:
    """The image files as uint8 (N, C, H, W) of `shape`, with a bar at a terminal while they are read."""
    import sys

    def bar(paths: Sequence[str]) -> Iterable[str]:
        from tqdm import tqdm

        return tqdm(paths, desc=f"reading {what}", unit=" images", leave=False, file=sys.stderr)

    at_a_terminal = sys.stderr.isatty() and len(files) > 1
    images, _ = read_images(files, shape, dataset="folder", progress=bar if at_a_terminal else None)
    return images


def read_images(paths: Sequence[str], input_shape: Sequence[int], invert: bool = False, dataset: str = "",
                progress: Progress | None = None, readers: int = 0) -> tuple[np.ndarray, list[str]]:
    """Image files as raw pixels of a model's input, (N, C, H, W) of 0-255, and a note for each on
    what was done to it: turned upright as its EXIF orientation says (a phone's photo), its
    transparent parts taken as white (the ground of the product photos Fashion-MNIST was made
    from), converted to the model's channels (grey, or RGB), negated with `invert`, and, where its
    size is not the input's, made as the dataset's images were: for a dataset of one thing per
    image (FRAMED), trimmed to what differs from its border colour, then scaled to fit (area-
    averaged down, bicubic up) with the aspect ratio kept, centred, the rest filled with the mean
    colour of its border. ValueError, in one line naming the file, for one that cannot be read as
    an image (the first such in their order). `progress` wraps the iteration over the files, to
    show how far it is (a tqdm, say). The files are read by `readers` threads at once (default: one
    a core, at most READERS) where a trial finds that faster; the result is the same."""
    from PIL import Image

    channels, height, width = input_shape
    Image.init()  # every format's plugin, here: a first open in each thread at once could miss one

    def made(path: str) -> tuple[np.ndarray, str]:
        return _made(path, (channels, height, width), invert, dataset)

    images, notes = [], []
    with contextlib.closing(_in_order(made, paths, readers or cores(READERS))) as reading:
        for _ in progress(paths) if progress else paths:
            pixels, note = next(reading)
            images.append(pixels)
            notes.append(note)
    return (np.stack(images) if images else np.zeros((0, channels, height, width), np.uint8)), notes


# Threads that read image files at once, at most (one a core where there are fewer). Pillow decodes
# without Python's lock, but the rest of the reading holds it, and small images are mostly that rest:
# on the 2-core AMD EPYC two threads read 600 RGB images of 256x256 1.8x (PNG) and 1.4x (JPEG) as fast
# as one, but 64x64 ones at 0.7x and 28x28 ones at 0.5x. So _in_order tries both ways first.
READERS = 8
CHUNK = 16  # image files a thread reads at a time


def cores(most: int) -> int:
    """The cores this process may run on, at most `most`."""
    import os

    return max(1, min(most, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _in_order(work: Callable[[str], Any], paths: Sequence[str], threads: int) -> Generator[Any, None, None]:
    """work(path) of each of `paths`, in their order, by `threads` threads at once (CHUNK paths a
    time) where that is measured to be faster: the first CHUNK are done alone and the next `threads`
    chunks by the threads, each timed, and the rest the faster way. When it stops (an error, Ctrl-C,
    or closed), what is left undone is not started, and each thread ends with the path it is on."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    first = [work(path) for path in paths[:CHUNK]]
    alone = (time.perf_counter() - start) / max(1, len(first))
    yield from first
    if threads < 2 or len(paths) <= CHUNK:
        yield from map(work, paths[CHUNK:])
        return
    chunks = [paths[i:i + CHUNK] for i in range(CHUNK, len(paths), CHUNK)]
    stopped = threading.Event()

    def chunk_work(chunk: Sequence[str]) -> list[Any]:
        return [work(path) for path in chunk if not stopped.is_set()]  # stopped: what it gives is not taken

    pool = ThreadPoolExecutor(min(threads, len(chunks)), thread_name_prefix="reading")
    try:
        start = time.perf_counter()
        trial = [done for chunk in pool.map(chunk_work, chunks[:threads]) for done in chunk]
        together = (time.perf_counter() - start) / len(trial)
        yield from trial
        rest = [path for chunk in chunks[threads:] for path in chunk]
        if together >= alone:  # small images: the threads wait on each other for Python's lock
            yield from map(work, rest)
            return
        for done in pool.map(chunk_work, chunks[threads:]):
            yield from done
    finally:
        stopped.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _made(path: str, input_shape: tuple[int, int, int], invert: bool, dataset: str) -> tuple[np.ndarray, str]:
    """One image file as read_images makes it: (C, H, W) uint8 pixels, and the note."""
    from PIL import Image, ImageOps

    channels, height, width = input_shape
    image, note = _decoded(path, "L" if channels == 1 else "RGB", DRAFT * max(width, height))
    if invert:
        image = ImageOps.invert(image)
    a = np.asarray(image, dtype=np.float64).reshape(image.height, image.width, -1)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).mean(axis=0)  # (C,)
    fill = tuple(round(v) for v in border)
    colour = fill[0] if channels == 1 else fill
    if image.size != (width, height):  # not made the dataset's way yet (an image of its size is taken as it is)
        if dataset in FRAMED:
            image = _trimmed(image, a, border, note)
        frame = (round(FRAMED.get(dataset, 1.0) * width), round(FRAMED.get(dataset, 1.0) * height))
        note.append(f"scaled from {image.width}x{image.height}")
        shrinking = image.width >= frame[0] and image.height >= frame[1]
        method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
        image = ImageOps.pad(image, frame, method=method, color=colour)
        if frame != (width, height):  # a margin around the frame
            framed = Image.new(image.mode, (width, height), colour)
            framed.paste(image, ((width - frame[0]) // 2, (height - frame[1]) // 2))
            image = framed
    if not invert and dataset in LIGHT_ON_DARK and border.mean() > 127:
        note.append(f"its border is light, and {dataset}'s images are light on dark: --invert may suit it")
    return np.asarray(image, dtype=np.uint8).reshape(height, width, channels).transpose(2, 0, 1), "; ".join(note)


def _trimmed(image: Any, pixels: np.ndarray, border: np.ndarray, note: list[str]) -> Any:
    """`image` cropped to its thing, as the dataset was made: what differs from its border colour
    (`border`, of its `pixels`, (H, W, C)) by more than TRIM; itself where that is all of it, or
    none. The crop goes into `note`."""
    thing = np.argwhere((np.abs(pixels - border) > TRIM * 255).any(axis=2))  # (K, 2): its rows and columns
    if not len(thing):
        return image
    (top, left), (bottom, right) = thing.min(axis=0), thing.max(axis=0) + 1
    if (right - left, bottom - top) == image.size:
        return image
    note.append(f"trimmed to {right - left}x{bottom - top} at ({left}, {top})")
    return image.crop((int(left), int(top), int(right), int(bottom)))


EXIF_ORIENTATION = 0x0112  # the EXIF tag of how a camera held the picture (1: upright)
# A JPEG is decoded at 1/2, 1/4 or 1/8 of its size where that keeps both sides at least this many
# times the model's input side: a 6000x4500 photo in 0.03 s instead of 1.6 s, as 750x563.
DRAFT = 16


@contextlib.contextmanager
def _opened(path: str) -> Iterator[Any]:
    """The image file at `path`, open: what fails while it is open, in one line naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            yield opened
    except (UnidentifiedImageError, OSError) as err:  # not an image, truncated, missing, a folder
        raise ValueError(input_error(err) if isinstance(err, OSError) and err.strerror  # the system's words
                         else f"{path}: not an image Pillow can read ({err})") from None
    except Image.DecompressionBombError as err:  # Pillow's guard against a small file of a vast image
        raise ValueError(f"{path}: not read, too large: {err}") from None


def _decoded(path: str, mode: str, side: int = 0) -> tuple[Any, list[str]]:
    """The image file at `path` decoded (a JPEG at a reduced size down to `side`, where it is that
    large), upright, on white where it is transparent, as `mode` ("L" or "RGB"), and a note of
    what was reduced, turned or filled (read_images)."""
    from PIL import Image, ImageOps

    note = []
    with _opened(path) as opened:
        stored = opened.size
        if side:
            opened.draft(mode, (side, side))  # JPEG only: the others decode whole
        if opened.size != stored:
            note.append(f"decoded at {opened.width}x{opened.height} of {stored[0]}x{stored[1]}")
        if getattr(opened, "n_frames", 1) > 1:  # an animated GIF, a TIFF of several pages: the first is read
            note.append(f"the first of its {opened.n_frames} frames")
        orientation = opened.getexif().get(EXIF_ORIENTATION, 1)
        image = ImageOps.exif_transpose(opened)  # decodes it (a copy): a torn file fails here
        sixteen = image.mode.startswith("I;16") or (image.mode == "I" and opened.format == "PNG")
    if orientation != 1:
        note.append(f"turned upright (EXIF orientation {orientation})")
    if sixteen:  # grey of 16 bits (0-65535: a PNG or TIFF of a scanner, say), which convert() would clip at 255
        image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).round().astype(np.uint8), "L")
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        if np.asarray(rgba)[..., 3].min() < 255:  # some of it is transparent
            image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image.alpha_composite(rgba)
            note.append("its transparent parts taken as white")
    return image.convert(mode), note

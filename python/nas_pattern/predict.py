"""`python -m nas_pattern.predict PATH`: what a saved model is, and how it does on the test images:
in all, and class by class (its accuracy on each, and the class it most often takes each for).
`python -m nas_pattern.predict PATH IMAGE...`: the class it gives each image file (PNG, JPEG, any
format Pillow reads), with its probability and the runner-up.

PATH is a run directory or a best.pt file; a bad one (missing, truncated, of another format
version, of a network class that cannot be imported here), or an image file that cannot be read,
is one line and exit status 2. Ctrl-C, SIGTERM and a closed output stop it with one line and exit
130, as the other commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_pattern.config import EXIT_BAD_INPUT, EXIT_INTERRUPTED, INPUT_ERRORS, OneLineParser, input_error, number
from nas_pattern.data import load_test_split
from nas_pattern.files import drop_output, sigterm_as_interrupt
from nas_pattern.model import MODEL, load_model


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m nas_pattern.predict", description=__doc__)
    parser.add_argument("path", metavar="PATH", help=f"a run directory, or a {MODEL} file")
    parser.add_argument("files", nargs="*", metavar="IMAGE", help="image files to classify instead of testing the "
                        "model (a folder: the image files in it): each is turned upright as its EXIF orientation "
                        "says, its transparent parts taken as white, converted to the model's channels (grey or "
                        "RGB) and, unless it is of the model's input size, trimmed to its thing (Fashion-MNIST, "
                        "MNIST) and scaled to fit that input (28x28 for Fashion-MNIST), the aspect ratio kept and "
                        "the rest filled with the image's border colour")
    parser.add_argument("--invert", action="store_true", help="with IMAGE files: negate them first (Fashion-MNIST "
                        "and MNIST hold light things on a dark ground; a photo is often the other way round)")
    parser.add_argument("--data-dir", help="directory of the dataset's test files, the training files are not needed "
                        "(default for fashion-mnist: Debian's)")
    parser.add_argument("--images", type=number(int, 1), help="test images to classify (default: all)")
    args = parser.parse_intermixed_args(argv)  # PATH, then flags and IMAGE files in any order
    if args.files and (args.images is not None or args.data_dir is not None):
        parser.error(f"{'--images' if args.images is not None else '--data-dir'} is for testing the model on the "
                     "dataset's test images; with IMAGE files it has nothing to do")
    if args.invert and not args.files:
        parser.error("--invert is for IMAGE files; the dataset's test images are used as they are")
    try:
        with sigterm_as_interrupt():  # `kill`, `timeout`: as Ctrl-C
            return _predict(args, parser.prog)
    except KeyboardInterrupt:  # nothing is written: nothing to keep
        print(f"\n{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _predict(args: argparse.Namespace, prog: str) -> int:
    try:
        model = load_model(args.path)
        if args.files:
            files = image_files(args.files)
            pixels, notes = read_images(files, model.card.input_shape, args.invert, model.card.dataset)
        else:
            test = load_test_split(model.card.dataset, args.data_dir).head(args.images or 10_000)
    except INPUT_ERRORS as err:
        print(f"{prog}: error: {input_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    card = model.card
    try:
        print(f"{model.path}: {card.network.rsplit(':', 1)[-1]} {model.architecture.describe()}")
        print(f"  trained        {card.trained}")
        if args.files:
            print(classified(files, *model.predict(pixels), model.class_names, notes))
        else:
            metrics = model.evaluate(test)
            print(f"  parameters     {metrics.params:,}")
            if card.val_metrics:
                print(f"  validation     {card.val_metrics['accuracy']:.4f} (as recorded)")
            print(f"  test accuracy  {metrics.accuracy:.4f} on {len(test):,} {card.dataset} test images")
            print(by_class(model.confusion(test), model.class_names))
        sys.stdout.flush()  # here, where a closed output is caught, not at exit
    except BrokenPipeError:  # its output closed (`| head` has its lines): it stops, as a search does
        drop_output()
        print(f"{prog}: its output was closed; it stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


# The datasets whose images are light things on a dark ground: an image file with a light border
# is likely the other way round, and is said to be.
LIGHT_ON_DARK = ("fashion-mnist", "mnist")
# The datasets made of one thing per image, its ground trimmed away, then scaled to fit a square of
# this share of the image's side, centred: Fashion-MNIST's products fill the 28x28 (its README's
# conversion: trim, resize the longest edge to 28, extend the shorter, negate, grey), MNIST's
# digits a 20x20 box in it. An image file is made the same way.
FRAMED = {"fashion-mnist": 1.0, "mnist": 20 / 28}
TRIM = 0.05  # what differs from the border colour by more than this share of 255 is the thing (Fashion-MNIST's 5%)


def image_files(paths: Sequence[str]) -> list[str]:
    """The files named, a folder's images (by the extensions Pillow reads, in name order) in its
    place; ValueError for a folder that holds none."""
    from PIL import Image

    files = []
    for path in paths:
        folder = Path(path)
        if folder.is_dir():
            known = Image.registered_extensions()
            images = sorted(str(f) for f in folder.iterdir() if f.is_file() and f.suffix.lower() in known)
            if not images:
                raise ValueError(f"{path}: a folder with no image files in it (PNG, JPEG, ...: any Pillow reads)")
            files += images
        else:
            files.append(path)
    return files


def read_images(paths: Sequence[str], input_shape: Sequence[int], invert: bool = False,
                dataset: str = "") -> tuple[np.ndarray, list[str]]:
    """Image files as raw pixels of a model's input, (N, C, H, W) of 0-255, and a note for each on
    what was done to it: turned upright as its EXIF orientation says (a phone's photo), its
    transparent parts taken as white (the ground of the product photos Fashion-MNIST was made
    from), converted to the model's channels (grey, or RGB), negated with `invert`, and, where its
    size is not the input's, made as the dataset's images were: for a dataset of one thing per
    image (FRAMED), trimmed to what differs from its border colour, then scaled to fit (area-
    averaged down, bicubic up) with the aspect ratio kept, centred, the rest filled with the mean
    colour of its border. ValueError, in one line naming the file, for one that cannot be read as
    an image."""
    from PIL import Image, ImageOps

    channels, height, width = input_shape
    images, notes = [], []
    for path in paths:
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
        images.append(np.asarray(image, dtype=np.uint8).reshape(height, width, channels).transpose(2, 0, 1))
        notes.append("; ".join(note))
    return np.stack(images), notes


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


def _decoded(path: str, mode: str, side: int = 0) -> tuple[Any, list[str]]:
    """The image file at `path` decoded (a JPEG at a reduced size down to `side`, where it is that
    large), upright, on white where it is transparent, as `mode` ("L" or "RGB"), and a note of
    what was reduced, turned or filled (read_images)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    note = []
    try:
        with Image.open(path) as opened:
            stored = opened.size
            if side:
                opened.draft(mode, (side, side))  # JPEG only: the others decode whole
            if opened.size != stored:
                note.append(f"decoded at {opened.width}x{opened.height} of {stored[0]}x{stored[1]}")
            orientation = opened.getexif().get(EXIF_ORIENTATION, 1)
            image = ImageOps.exif_transpose(opened)  # decodes it (a copy): a torn file fails here
    except (UnidentifiedImageError, OSError) as err:  # not an image, truncated, missing, a folder
        raise ValueError(input_error(err) if isinstance(err, OSError) and err.strerror  # the system's words
                         else f"{path}: not an image Pillow can read ({err})") from None
    if orientation != 1:
        note.append(f"turned upright (EXIF orientation {orientation})")
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        if np.asarray(rgba)[..., 3].min() < 255:  # some of it is transparent
            image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image.alpha_composite(rgba)
            note.append("its transparent parts taken as white")
    return image.convert(mode), note


def classified(paths: Sequence[str], classes: torch.Tensor, probabilities: torch.Tensor, names: Sequence[str],
               notes: Sequence[str]) -> str:
    """One line per image file: the class the model gives it, its probability, the runner-up and
    its probability, and the note of what was done to the image (read_images)."""
    runner_up = probabilities.topk(min(2, probabilities.shape[1]), dim=1).indices[:, -1]
    path_width = max(len(str(path)) for path in paths)
    name_width = max(len(name) for name in names)
    lines = []
    for path, given, second, p, note in zip(paths, classes.tolist(), runner_up.tolist(), probabilities, notes,
                                            strict=True):
        line = (f"  {path!s:<{path_width}}  {names[given]:<{name_width}} {float(p[given]):.3f}  "
                f"(next {names[second]} {float(p[second]):.3f})")
        lines.append(line + (f"  {note}" if note else ""))
    return "\n".join(lines)


def by_class(confusion: torch.Tensor, names: Sequence[str]) -> str:
    """Each class's test accuracy and what its images are most often taken for, as lines of a table,
    from a confusion matrix (row: the label, column: the class given)."""
    width = max(len("by class"), *(len(name) for name in names)) + 2
    lines = [f"  {'by class':<{width}} accuracy  most often taken for"]
    for label, row in enumerate(confusion.tolist()):
        images = sum(row)
        if not images:
            lines.append(f"    {names[label]:<{width - 2}}    no test images")
            continue
        wrong = [(count, other) for other, count in enumerate(row) if other != label and count]
        count, other = max(wrong, key=lambda wrong: wrong[0], default=(0, label))  # ties: the first
        taken = f"{names[other]} ({count / images:.1%})" if count else "nothing else"
        lines.append(f"    {names[label]:<{width - 2}} {row[label] / images:>8.3f}  {taken}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""bench reading: how fast a dataset of one's own image files is read, one at a time against threads.

`--dataset folder` and `python -m nas_pattern.predict DIR IMAGE...` read image files with
`images.read_images`, which reads the first few alone and the next few with a thread a core (at
most READERS), each timed, and the rest the faster way. This section writes Fashion-MNIST's first test
images in three kinds of files to a temporary folder (its own 28x28 PNGs; enlarged to 128x128 PNGs;
made photos, as benchmarks/photos.py makes them: negated, enlarged ten times onto a white 400x300
ground, JPEG), then reads each as a folder dataset's are read (the input common_shape chooses), one
at a time and by read_images's default; medians of --rounds, and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from nas_pattern import images
from nas_pattern.data import FOLDER_SIDE, read_idx

READING_IMAGES = 1000  # files of each kind (--test-limit)


def reading_section(args: argparse.Namespace, device: torch.device) -> None:
    pixels = read_idx(args.data_dir, "t10k-images-idx3-ubyte")[:args.test_limit or READING_IMAGES]
    threads = images.cores(images.READERS)
    print(f"reading: {len(pixels):,} image files of each kind read as --dataset folder reads them, one at a time "
          f"and by default ({threads} thread(s) where a trial finds them faster); medians of {args.rounds} rounds")
    print(f"  {'files':<34} {'input':>8} {'alone ms':>9} {'alone /s':>9} {'default /s':>11} {'ratio':>6}")
    kinds: dict[str, tuple[str, Callable[[np.ndarray], Image.Image]]] = {
        "28x28 PNG (Fashion-MNIST's own)": ("png", Image.fromarray),
        "128x128 PNG": ("png", lambda image: Image.fromarray(image).resize((128, 128), Image.Resampling.BICUBIC)),
        "400x300 JPEG photos": ("jpg", _photo),
    }
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as folder:
        for kind, (suffix, made) in kinds.items():
            files = [str(Path(folder) / f"{i}.{suffix}") for i in range(len(pixels))]
            for image, path in zip(pixels, files, strict=True):
                made(image).save(path, quality=90)  # JPEG's quality; PNG ignores it
            shape = images.common_shape(files, FOLDER_SIDE)
            images.read_images(files[:images.CHUNK], shape, dataset="folder", readers=1)  # Pillow's plugins loaded
            alone, default = _medians(args.rounds, files, shape)
            print(f"  {kind:<34} {'x'.join(map(str, shape)):>8} {alone / len(files) * 1e3:>9.2f} "
                  f"{len(files) / alone:>9,.0f} {len(files) / default:>11,.0f} {alone / default:>5.2f}x")
            for path in files:
                Path(path).unlink()


def _photo(image: np.ndarray) -> Image.Image:
    """A test image as a photo of the product: dark on white, 280x280 on a 400x300 RGB ground."""
    photo = Image.new("L", (400, 300), 255)
    photo.paste(Image.fromarray(255 - image).resize((280, 280), Image.Resampling.BICUBIC), (60, 10))
    return photo.convert("RGB")


def _medians(rounds: int, files: list[str], shape: tuple[int, int, int]) -> tuple[float, float]:
    """The median seconds of reading `files` one at a time and by default, over `rounds` that take
    the two in turn."""
    times: dict[int, list[float]] = {1: [], 0: []}
    for _ in range(rounds):
        for readers, taken in times.items():
            start = time.perf_counter()
            images.read_images(files, shape, dataset="folder", readers=readers)
            taken.append(time.perf_counter() - start)
    return statistics.median(times[1]), statistics.median(times[0])

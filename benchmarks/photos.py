"""Does `python -m nas_pattern.predict MODEL IMAGE...` make a photo the model's input as the dataset
made its images? (README, Using the model you found.)

    .venv/bin/python benchmarks/photos.py MODEL [IMAGES] [--data-dir DIR]

Each of the first IMAGES test images (default 100) of the model's dataset (Fashion-MNIST or MNIST)
is made a "photo" as the products Fashion-MNIST was made from were: negated (a dark thing on
white), enlarged ten times with bicubic steps, put on a white 400x300 ground off its centre, and
saved as a JPEG (quality 90). Printed: how often the model gives the photo, read with --invert,
the class it gives the test image itself, with the trimming predict does and with the photo's
whole frame scaled instead (what predict did before the trimming).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PIL import Image

from nas_pattern.config import OneLineParser, number
from nas_pattern.data import FASHION_MNIST_DIR, read_idx
from nas_pattern.images import FRAMED, read_images
from nas_pattern.model import load_model


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="benchmarks/photos.py", description=__doc__.split("\n\n")[0])
    p.add_argument("model", metavar="MODEL", help="a run directory or a best.pt file")
    p.add_argument("images", type=number(int, 1), nargs="?", default=100, metavar="IMAGES")
    p.add_argument("--data-dir", default=FASHION_MNIST_DIR, help="the dataset's IDX files (default: Debian's "
                   "Fashion-MNIST)")
    args = p.parse_args(argv)
    model = load_model(args.model)
    if model.card.dataset not in FRAMED:
        p.error(f"the model is of {model.card.dataset}; this check is for {', '.join(FRAMED)}")
    pixels = read_idx(args.data_dir, "t10k-images-idx3-ubyte", model.card.dataset)[:args.images]
    truth, _ = model.predict(pixels)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, image in enumerate(pixels):
            photo = Image.new("L", (400, 300), 255)
            photo.paste(Image.fromarray(255 - image).resize((280, 280), Image.Resampling.BICUBIC), (60, 10))
            paths.append(str(Path(folder) / f"photo{i}.jpg"))
            photo.convert("RGB").save(paths[-1], quality=90)
        for how, dataset in (("trimmed, as predict reads it", model.card.dataset),
                             ("its whole frame scaled", "")):
            made, _ = read_images(paths, model.card.input_shape, invert=True, dataset=dataset)
            given, _ = model.predict(made)
            same = int((given == truth).sum())
            print(f"{how:<30} {same} of {len(paths)} photos get the test image's class ({same / len(paths):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

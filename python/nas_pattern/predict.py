"""`python -m nas_pattern.predict PATH`: what a saved model is, and how it does on the test images:
in all, and class by class (its accuracy on each, and the class it most often takes each for).
`python -m nas_pattern.predict PATH IMAGE...`: the class it gives each image file (PNG, JPEG, any
format Pillow reads), with its probability and the runner-up.

PATH is a run directory or a best.pt file; a bad one (missing, truncated, of another format
version, of a network class not imported here: a model file imports no code, --import does), or
an image file that cannot be read, is one line and exit status 2. Ctrl-C, SIGTERM and a closed
output stop it with one line and exit 130, as the other commands.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable, Iterator, Sequence

import torch
from tqdm import tqdm

from nas_pattern.config import EXIT_BAD_INPUT, EXIT_INTERRUPTED, INPUT_ERRORS, OneLineParser, number
from nas_pattern.data import load_test_split
from nas_pattern.files import drop_output, input_error, sigterm_as_interrupt
from nas_pattern.model import IMPORT_HELP, MODEL, import_modules, load_model


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
    parser.add_argument("--csv", action="store_true", help="with IMAGE files: print CSV instead, for a spreadsheet "
                        "or a script: a header, then a row for each file (file, class, name, probability, next, "
                        "next_name, next_probability, note)")
    parser.add_argument("--data-dir", help="directory of the dataset's test files, the training files are not needed "
                        "(default: where they were when the model was trained, else Debian's Fashion-MNIST; a "
                        "folder dataset's: the folder with its test/; an npz dataset's: its file)")
    parser.add_argument("--images", type=number(int, 1), help="test images to classify (default: all)")
    parser.add_argument("--import", dest="modules", action="append", default=[], metavar="MODULE",
                        help=IMPORT_HELP)
    args = parser.parse_intermixed_args(argv)  # PATH, then flags and IMAGE files in any order
    if args.files and (args.images is not None or args.data_dir is not None):
        parser.error(f"{'--images' if args.images is not None else '--data-dir'} is for testing the model on the "
                     "dataset's test images; with IMAGE files it has nothing to do")
    for flag in ("invert", "csv"):
        if getattr(args, flag) and not args.files:
            parser.error(f"--{flag} is for IMAGE files; the dataset's test images are used as they are")
    try:
        with sigterm_as_interrupt():  # `kill`, `timeout`: as Ctrl-C
            return _predict(args, parser.prog)
    except KeyboardInterrupt:  # nothing is written: nothing to keep
        print(f"\n{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _predict(args: argparse.Namespace, prog: str) -> int:
    try:
        import_modules(args.modules)
        model = load_model(args.path)
        if args.files:
            images = model.read_images(args.files, args.invert, progress=_reading)
        else:
            test = load_test_split(model.card.dataset, args.data_dir or model.card.data_here,
                                   input_shape=model.card.input_shape, normalisation=model.card.normalisation,
                                   classes=model.class_names)
            test = test.head(args.images or 10_000)
    except INPUT_ERRORS as err:
        print(f"{prog}: error: {input_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    card = model.card
    try:
        if args.csv:  # the rows alone: what the model is would be a line a reader of CSV cannot take
            print(as_csv(images.files, *model.predict(images.pixels), model.class_names, images.notes), end="")
        else:
            print(f"{model.path}: {card.network.rsplit(':', 1)[-1]} {model.architecture.describe()}")
            print(f"  trained        {card.trained}")
            if args.files:
                print(classified(images.files, *model.predict(images.pixels), model.class_names, images.notes))
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


def _reading(files: Sequence[str]) -> Iterable[str]:
    """The image files one by one, behind a progress bar at a terminal (many large photos take a
    while); it goes once they are read, and the lines of their classes take its place."""
    return tqdm(files, desc="reading", unit="image", dynamic_ncols=True, file=sys.stdout, leave=False,
                disable=not sys.stdout.isatty() or len(files) < 2)


def classified(paths: Sequence[str], classes: torch.Tensor, probabilities: torch.Tensor, names: Sequence[str],
               notes: Sequence[str]) -> str:
    """One line per image file: the class the model gives it, its probability, the runner-up and
    its probability, and the note of what was done to the image (read_images)."""
    path_width = max(len(str(path)) for path in paths)
    name_width = max(len(name) for name in names)
    lines = []
    for path, given, p, second, p_second, note in _rows(paths, classes, probabilities, notes):
        line = f"  {path!s:<{path_width}}  {names[given]:<{name_width}} {p:.3f}  (next {names[second]} {p_second:.3f})"
        lines.append(line + (f"  {note}" if note else ""))
    return "\n".join(lines)


def as_csv(paths: Sequence[str], classes: torch.Tensor, probabilities: torch.Tensor, names: Sequence[str],
           notes: Sequence[str]) -> str:
    """classified() as CSV: a header, then a row per image file with the class (its number and
    name) and its probability, the runner-up's, and the note."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "class", "name", "probability", "next", "next_name", "next_probability", "note"])
    for path, given, p, second, p_second, note in _rows(paths, classes, probabilities, notes):
        writer.writerow([path, given, names[given], f"{p:.6f}", second, names[second], f"{p_second:.6f}", note])
    return out.getvalue()


def _rows(paths: Sequence[str], classes: torch.Tensor, probabilities: torch.Tensor,
          notes: Sequence[str]) -> Iterator[tuple[str, int, float, int, float, str]]:
    """For each image file: it, its class and that class's probability, the runner-up (the only
    class where there is one) and its probability, and its note (classified(), as_csv())."""
    runner_up = probabilities.topk(min(2, probabilities.shape[1]), dim=1).indices[:, -1]
    for path, given, second, p, note in zip(paths, classes.tolist(), runner_up.tolist(), probabilities, notes,
                                            strict=True):
        yield path, given, float(p[given]), second, float(p[second]), note


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

"""The command line of `python -m nas_pattern.bench` (the sections are described in the package's docstring)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

import nas_pattern.bench
from nas_pattern.bench import (
    controller,
    precision,
    reading,
    retraining,
    search,
    sharing,
    sharing_search,
    spaces,
    strategies,
    study,
    tabulate,
    trainer,
    tune,
)
from nas_pattern.bench.common import STUDY_SEEDS, TABLE_CPU_TRAIN_LIMIT, TABLE_PATH, check_table, table_path
from nas_pattern.bench.landscapes import LANDSCAPES
from nas_pattern.bench.spaces import RICHER_SEEDS
from nas_pattern.config import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    INPUT_ERRORS,
    OneLineParser,
    number,
)
from nas_pattern.data import FASHION_MNIST_DIR
from nas_pattern.files import UNWRITABLE, drop_output, input_error, sigterm_as_interrupt
from nas_pattern.networks import NETWORKS
from nas_pattern.trainer import device_name, resolve_device

SECTIONS: dict[str, Callable[[argparse.Namespace, torch.device], None]] = {
    "trainer": trainer.trainer_section,
    "controller": controller.controller_section,
    "search": search.search_section,
    "strategies": strategies.strategies_section,
    "spaces": spaces.spaces_section,
    "tabulate": tabulate.tabulate_section,
    "tune": tune.tune_section,
    "precision": precision.precision_section,
    "sharing": sharing.sharing_section,
    "sharing-search": sharing_search.sharing_search_section,
    "retraining": retraining.retraining_section,
    "reading": reading.reading_section,
}
DEFAULT_SECTIONS = ("trainer", "controller", "search", "strategies")


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    for section in args.sections:
        if section not in SECTIONS:
            p.error(f"unknown section {section!r}; expected any of: {', '.join(SECTIONS)}")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        p.error(str(err))
    try:
        with sigterm_as_interrupt():  # `kill`, `timeout`, a batch system: as Ctrl-C, its workers and hogs stopped
            return _run(args, device, p.prog)
    except KeyboardInterrupt as stop:  # a section that keeps a record says what it kept
        print(f"\n{p.prog}: interrupted" + (f"; {stop}" if str(stop) else ""), file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace, device: torch.device, prog: str) -> int:
    """The sections asked for, one after another."""
    try:
        for path in _tables_read(args, args.sections or DEFAULT_SECTIONS):
            check_table(path)  # before the first section: the table studies come last, after minutes of others
        if WRITES_OUT & set(args.sections or DEFAULT_SECTIONS):
            _make_out(Path(args.out))  # now, not after a study's minutes
        print(f"nas-pattern bench on {device_name(device)}, torch {torch.__version__}, seed {args.seed}")
        for section in args.sections or DEFAULT_SECTIONS:
            print()
            SECTIONS[section](args, device)
        sys.stdout.flush()  # here, where a closed output is caught, not at exit
    except INPUT_ERRORS as err:  # a missing, unreadable or malformed table, data file
        print(f"{prog}: error: {input_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # its output closed (`| head` has its lines): it stops, as a search does
        drop_output()
        print(f"{prog}: its output was closed; it stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as err:  # a full disk, a file system gone read-only (after BrokenPipeError, an OSError too)
        if err.errno not in UNWRITABLE:
            raise
        where = f" {err.filename.removesuffix('.tmp')}" if isinstance(err.filename, str) else ""
        print(f"{prog}: error: cannot write{where}: {err.strerror or err}; every file it wrote is whole (none is "
              "left half-written)", file=sys.stderr)
        return EXIT_FAILED
    return 0


WRITES_OUT = {"strategies", "sharing"}  # the sections that write their record to --out


def _make_out(out: Path) -> None:
    """--out, made if it is not there yet; ValueError if it cannot be, or cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file has its name
        raise ValueError(f"--out {out} is a file, not a folder") from None
    except OSError as err:
        raise ValueError(f"--out {out} cannot be created: {err.strerror or err}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out} is not writable")


def parser() -> OneLineParser:
    """The bench's command line."""
    p = OneLineParser(prog="python -m nas_pattern.bench", description=nas_pattern.bench.__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sections", nargs="*", metavar="SECTION",
                   help=f"any of: {', '.join(SECTIONS)} (default: {', '.join(DEFAULT_SECTIONS)}; "
                   "the others run only when named)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: auto")
    p.add_argument("--data-dir", default=FASHION_MNIST_DIR, help="Fashion-MNIST IDX files (.gz or raw)")
    p.add_argument("--train-limit", type=number(int, 1), default=None,
                   help=f"training images (default on a CPU: 10,000, {TABLE_CPU_TRAIN_LIMIT:,} for tabulate; "
                        "on a GPU: all)")
    p.add_argument("--table", default=None, metavar="FILE",
                   help=f"the table tabulate writes and tune searches (default: {TABLE_PATH}); strategies: "
                        "search this table instead of the landscapes")
    p.add_argument("--strategies", type=_names(study.STRATEGIES, "strategy(ies)"), default=study.STRATEGIES,
                   help=f"strategies: comma-separated agents (default: all of {', '.join(study.STRATEGIES)})")
    p.add_argument("--landscapes", type=_names(tuple(LANDSCAPES), "landscape(s)"), default=tuple(LANDSCAPES),
                   help=f"strategies: comma-separated landscapes (default: all of {', '.join(LANDSCAPES)})")
    p.add_argument("--space", default=None, metavar="FILE",
                   help="tabulate: the search space (JSON, the --space format of nas_pattern.run; default: "
                        "the 576-architecture CNN space)")
    p.add_argument("--test-limit", type=number(int, 1), default=None,
                   help="tabulate, trainer: test images per child (default: all 10,000); reading: test images "
                        f"made image files of each kind (default {reading.READING_IMAGES:,})")
    p.add_argument("--network", default="cnn", choices=sorted(NETWORKS), help="tabulate: the children's network")
    p.add_argument("--epochs", type=number(int, 1), default=1,
                   help="training epochs per child (trainer, search, spaces, tabulate; default 1)")
    p.add_argument("--shared-epochs", type=number(int, 1), default=sharing.SHARED_EPOCHS,
                   help="sharing: passes of shared training over the table's training images "
                   f"(default {sharing.SHARED_EPOCHS})")
    p.add_argument("--children", type=number(int, 1), default=search.SEARCH_CHILDREN,
                   help=f"search: children of the timed search (default {search.SEARCH_CHILDREN})")
    p.add_argument("--executors", type=_names(search.EXECUTORS, "executor(s)"), default=None,
                   help="search: the executors timed, comma-separated (default: local,ray where Ray is "
                        "installed, else local; naming ray where it is not is an error)")
    p.add_argument("--rounds", type=number(int, 1), default=trainer.ROUNDS,
                   help="trainer (on a CPU), reading: rounds that take the compared variants in turn; medians are "
                        f"printed (default {trainer.ROUNDS})")
    p.add_argument("--updates", type=number(int, 1), default=50,
                   help="policy updates timed by the controller section (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seeds every section (default 0)")
    p.add_argument("--seeds", type=number(int, 1), default=None,
                   help=f"searches per strategy (strategies, tune; default {STUDY_SEEDS}), per kind of search "
                   f"(sharing-search; default {sharing_search.SEEDS}), supernets per table (sharing, from --seed; "
                   f"default {sharing.SEEDS}), per space (spaces; default {RICHER_SEEDS}) "
                   "or probes per load (precision; default 5)")
    p.add_argument("--first-seed", type=int, default=100,
                   help="strategies: the first seed (default 100; seeds below it are tune's)")
    p.add_argument("--budgets", type=_budgets, default=study.BUDGETS,
                   help="strategies: distinct architectures per search, comma-separated (default 25,50,100,200)")
    p.add_argument("--workers", type=number(int, 1), default=os.cpu_count() or 1,
                   help="strategies, tune: processes running searches at once (default: one per core)")
    p.add_argument("--out", default="benchmarks",
                   help="strategies, sharing: where the CSV and the plot go (default benchmarks)")
    return p


def _tables_read(args: argparse.Namespace, sections: Sequence[str]) -> list[str]:
    """The table files `sections` read (as each section chooses them), but for the one tabulate
    writes first; a landscape is read from its file, a synthetic one from none."""
    def file(source: str) -> str | None:
        return LANDSCAPES[source].path if source in LANDSCAPES else source

    paths = []
    if "strategies" in sections:
        paths += [file(source) for source in strategies.study_sources(args)]
    if "tune" in sections:
        paths.append(file(table_path(args)))
    if "sharing" in sections:
        paths += sharing.tables(args)
    written = table_path(args) if "tabulate" in sections else None
    return [path for path in paths if path is not None and path != written]


def _budgets(text: str) -> tuple[int, ...]:
    try:
        budgets = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 25,50,100, got {text!r}") from None
    if not budgets or budgets[0] < 1:
        raise argparse.ArgumentTypeError(f"budgets must be >= 1, got {text!r}")
    return budgets



def _names(known: Sequence[str], what: str) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated list of names from `known` (--strategies, --landscapes)."""
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [name for name in names if name not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or repr(text)}; expected any of: "
                                             f"{', '.join(known)}")
        return names
    return parse

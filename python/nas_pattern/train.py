"""`python -m nas_pattern.train`: train one architecture from scratch at the budget you name.

The final training every NAS paper does after its search: the search ranks architectures on a
small budget (one epoch, a few thousand images); this trains the one chosen on all the training
images for many epochs, tests it, and writes best.pt (and best.onnx) to use. The architecture
comes from a run directory (its best, or --episode N of it), a model file (best.pt) or a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nas_pattern.config import EXIT_BAD_INPUT, OneLineParser, RunConfig, number
from nas_pattern.data import DATASETS, VALIDATION_SIZE, load_dataset
from nas_pattern.files import drop_output, fresh_directory, outermost_missing, remove_made, sigterm_as_interrupt
from nas_pattern.memory import bound_note, memory_bound
from nas_pattern.model import MODEL, ONNX_MODEL, ModelCard, load_model, write_model_files
from nas_pattern.networks import NETWORKS, TorchNetwork, default_space, get_network
from nas_pattern.records import Best, InvalidArchitecture, first_line
from nas_pattern.run_dir import RunDirectory
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import TrainConfig, device_name, resolve_device
from nas_pattern.worker import failure_kind

DEFAULT_EPOCHS = 10


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m nas_pattern.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SOURCE", help="a run directory (its best architecture), a model file ("
                   f"{MODEL}: its architecture, trained again from scratch), or a JSON file of one architecture "
                   "({\"layers\": [...]}, as episodes.jsonl writes it)")
    p.add_argument("--episode", type=int, metavar="N", help="with a run directory: train episode N instead of "
                   "the best")
    p.add_argument("--epochs", type=number(int, 1), default=DEFAULT_EPOCHS, metavar="E",
                   help=f"training epochs (default: {DEFAULT_EPOCHS})")
    p.add_argument("--train-limit", type=number(int, 1), metavar="K", help="train on the first K training images "
                   "(default: all of them)")
    p.add_argument("--with-validation", action="store_true", help="train on the training and the validation "
                   f"images together: all {VALIDATION_SIZE:,} validation images after --train-limit's K (no "
                   "validation accuracy is then reported)")
    p.add_argument("--network", choices=sorted(NETWORKS), help="with a JSON file: the network it describes "
                   "(default: cnn)")
    p.add_argument("--space", metavar="FILE", help="with a JSON file: the search space it belongs to (default: "
                   "the network's own)")
    p.add_argument("--dataset", choices=DATASETS, help="with a JSON file: the dataset (default: fashion-mnist; "
                   "a run directory's or a model's own otherwise)")
    p.add_argument("--data-dir", help="directory of the dataset files (default: the run's, or Debian's "
                   "Fashion-MNIST)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights and the batch order (default: 0)")
    p.add_argument("--out", metavar="DIR", help="where best.pt and best.onnx go; a DIR that holds a best.pt "
                   "already is refused (default: <run dir>/retrained-<E>-epochs, or -2, -3, ... when that one "
                   "exists; runs/train-<time> for a file)")
    return p


Chosen = tuple[type[TorchNetwork], SearchSpace, Architecture, dict[str, Any]]


def architecture_of(args: argparse.Namespace) -> Chosen:
    """The network class, space and architecture SOURCE names, and what the run directory says
    about the data (dataset, data_dir); ValueError/FileNotFoundError in one line."""
    source = Path(args.source)
    model = source.is_file() and source.suffix in (".pt", ".onnx")  # load_model says what a wrong one is
    for flag, value in (("--network", args.network), ("--space", args.space)):
        if value is not None and (source.is_dir() or model):  # else ignored: the source's own is trained
            raise ValueError(f"{flag} is for an architecture file; {source} has its own")
    if source.is_dir():
        run_dir = RunDirectory(source)
        stored = run_dir.read_config("retrain from")
        config = RunConfig.from_json(stored["config"])
        space = SearchSpace.from_json(stored["space"], source=f"{source}/config.json")
        episodes = run_dir.peek_episodes(space)
        # a finished search's product; while it runs, its best so far
        best = run_dir.product(space) or Best(config.agent_config.objective, episodes).episode
        if args.episode is not None:
            chosen = next((e for e in episodes if e.episode == args.episode), None)
            if chosen is None:
                raise ValueError(f"{source} records episodes 1..{len(episodes)}; there is no episode "
                                 f"{args.episode}")
        elif best is not None:
            chosen = best
        else:
            raise ValueError(f"{source} records no trained child yet; nothing to retrain")
        cls = get_network(config.network)
        data = {"dataset": config.dataset, "data_dir": config.data_dir, "episode": chosen.episode}
        architecture = chosen.architecture
    elif source.is_file() and args.episode is not None:
        raise ValueError("--episode is for a run directory; SOURCE is a file")
    elif model:
        found = load_model(source)
        cls, architecture = type(found.network), found.architecture
        space = SearchSpace.from_json(found.card.space, source=str(source))
        data = {"dataset": found.card.dataset, "data_dir": None, "episode": found.card.episode}
    elif source.is_file():
        cls = get_network(args.network or "cnn")
        space = SearchSpace.load(args.space) if args.space else default_space(args.network or "cnn")
        try:
            given = json.loads(source.read_text(encoding="utf-8-sig"))  # a BOM too, as the space file
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{source} is not an architecture file, {_what_it_is(source, err)}") from None
        if isinstance(given, dict) and "decisions" in given:
            raise ValueError(f"{source} is a search space, not an architecture: give it with --space, and SOURCE "
                             "an architecture file ({\"layers\": [...]})")
        architecture = space.parse(given)
        data = {"dataset": "fashion-mnist", "data_dir": None, "episode": 0}
    else:
        raise FileNotFoundError(f"{source} does not exist (SOURCE is a run directory, a model file or an "
                                "architecture file)")
    if not issubclass(cls, TorchNetwork):
        raise ValueError(f"the {cls.__name__} network has no PyTorch module to train")
    cls.check_space(space)
    return cls, space, architecture, data


def _what_it_is(source: Path, err: ValueError) -> str:
    """What a SOURCE file that is not JSON is, and what to give instead."""
    if source.suffix == ".jsonl":
        run = source.parent if (source.parent / "config.json").is_file() else "it is in"
        return f"but a record of episodes, a line each: give the run directory {run}, with --episode N for one"
    return f"and not JSON ({first_line(err)}): an architecture file is {{\"layers\": [...]}}"


def output_dir(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Where the model goes, made before the training that would otherwise be lost to a folder that
    cannot be written; never one that holds a model already: --out is then refused, and the default
    (<run dir>/retrained-<E>-epochs, runs/train-<time>) becomes the first of -2, -3, ... that does not
    exist yet, made here (mkdir is atomic: trainings started together each get their own). With it,
    the outermost folder made for the default (runs/, say) that files.remove_made takes back; None
    for --out, or a default whose parent existed."""
    source = Path(args.source)
    out, made = Path(args.out or "."), None
    try:
        if args.out:
            if (out / MODEL).exists():
                raise ValueError(f"--out {out} already holds {MODEL}, a model trained before; choose another --out "
                                 "(nothing is overwritten)")
            out.mkdir(parents=True, exist_ok=True)  # yours: it may exist
        else:
            base = (source / f"retrained-{args.epochs}-epochs" if source.is_dir()
                    else Path("runs") / f"train-{time.strftime('%Y%m%d-%H%M%S')}")
            made = outermost_missing(base)
            out = fresh_directory(base)
    except FileExistsError:  # --out names a file
        raise ValueError(f"output folder {out} cannot be created: a file has its name") from None
    except OSError as err:
        raise ValueError(f"output folder {err.filename or out} cannot be created: {err.strerror or err}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {out} is not writable")
    return out, made


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cls, space, architecture, stored = architecture_of(args)
        device = resolve_device(args.device)
        data = load_dataset(args.dataset or stored["dataset"], args.data_dir or stored["data_dir"])
    except (ValueError, FileNotFoundError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    train = data.train.head(args.train_limit)
    if args.with_validation:
        train = train.join(data.val, "train+val")
    config = TrainConfig.for_device(device)
    network = cls(architecture, data.input_shape, data.num_classes, train_config=config, device=device,
                  seed=args.seed)
    try:
        network.check(space)  # e.g. an architecture file that pools a small image below 1x1
        out, made = output_dir(args)  # last, so that nothing is made for a run that is refused
    except ValueError as err:  # InvalidArchitecture is one: it names the architecture
        named = f"{architecture.describe()}: " if isinstance(err, InvalidArchitecture) else ""
        print(f"{parser.prog}: error: {named}{err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = tqdm(total=args.epochs, unit="epoch", dynamic_ncols=True, file=sys.stdout,
                    disable=not sys.stdout.isatty())  # in a log, a line per epoch is the progress

    def show(epoch: int, loss: float) -> None:
        if progress.disable:
            print(f"  epoch {epoch}/{args.epochs}: training loss {loss:.4f}", flush=True)
        progress.set_postfix_str(f"loss {loss:.4f}")
        progress.update()

    def no_model(message: str) -> None:  # the default folder made for the model goes with it
        progress.close()
        if args.out is None:
            remove_made(out, made)  # and runs/ if it was made for it
        print(message, file=sys.stderr)

    network.on_epoch = show
    start, bound = time.perf_counter(), None
    try:
        # SIGTERM as Ctrl-C; a model too large for the machine: an error, not the OOM killer
        with sigterm_as_interrupt(), memory_bound(device) as bound:
            print(f"Training {cls.__name__} {architecture.describe()} on {data.name}: {len(train):,} images "
                  f"({train.name}), {args.epochs} epoch(s), batch {config.batch_size}, on {device_name(device)}.")
            network.build()
            network.train(train, args.epochs)
            progress.close()
            val = None if args.with_validation else network.evaluate(data.val)
            test = network.evaluate(data.test)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: no model to write
        no_model(f"\n{parser.prog}: interrupted; no model was written")
        return 130
    except BrokenPipeError:  # its output closed while it trained (`| head`): it stops as on Ctrl-C
        drop_output()
        no_model(f"{parser.prog}: its output was closed; no model was written")
        return 130
    except (RuntimeError, MemoryError) as err:  # out of memory, or a loss that is not finite
        if (kind := failure_kind(err)) not in ("oom", "nan"):
            raise
        no_model(f"{parser.prog}: error: {architecture.describe()} could not be trained: "
                 f"{'out of memory' if kind == 'oom' else 'the loss became NaN or infinite'}: {first_line(err)}"
                 f"{bound_note(bound) if kind == 'oom' else ''}; no model was written")
        return 1
    seconds = time.perf_counter() - start
    how = f"nas_pattern.train: {args.epochs} epoch(s) on {len(train):,} images ({train.name}), seed {args.seed}"
    card = ModelCard.of(cls, architecture, space, data, config, episode=stored["episode"], trained=how,
                        val_metrics=val, test_metrics=test)
    assert network.module is not None
    try:
        if val is not None:
            print(f"Validation accuracy  {val.accuracy:.4f}")
        print(f"Test accuracy        {test.accuracy:.4f}   ({args.epochs} epoch(s), {seconds:.0f} s on "
              f"{device_name(device)})")
    except BrokenPipeError:  # its output closed once it had trained: the model is written all the same
        drop_output()
    try:
        path, onnx, check = write_model_files(out, card, network.module.state_dict(), data.test.x[:256])
    except OSError as err:  # a full disk: no half-written best.pt is left (write_atomically)
        print(f"{parser.prog}: error: cannot write the model to {out}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"Model                {path}")
    print(f"ONNX                 {f'{out / ONNX_MODEL} ({check})' if onnx else f'not written: {check}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

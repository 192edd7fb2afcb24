"""`python -m nas_pattern.train`: train one architecture from scratch at the budget you name.

The final training every NAS paper does after its search: the search ranks architectures on a
small budget (one epoch, a few thousand images); this trains the one chosen on all the training
images for many epochs, tests it, and writes best.pt (and best.onnx) to use. The architecture
comes from a run directory (its best, or --episode N of it), a model file (best.pt) or a JSON file.
At the end of each epoch the training's state goes to training.pt in the output folder: a training
stopped (Ctrl-C, SIGTERM, kill -9, a full disk) goes on from there with --resume, to the same model.
Each epoch's training loss and validation accuracy are shown, and written for TensorBoard.

One piece: the flags, the output folder and its checkpoint, and what an interrupted or failed
training keeps, change together.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from nas_pattern import board
from nas_pattern.board import EVENTS, TrainingLog
from nas_pattern.config import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    INPUT_ERRORS,
    OneLineParser,
    RunConfig,
    number,
)
from nas_pattern.data import DATASETS, VALIDATION_SIZE, Dataset, Split, load_dataset
from nas_pattern.files import (
    UNWRITABLE,
    drop_output,
    fresh_directory,
    hold_directory,
    input_error,
    outermost_missing,
    remove_made,
    sigterm_as_interrupt,
)
from nas_pattern.memory import bound_note, memory_bound
from nas_pattern.model import (
    IMPORT_HELP,
    MODEL,
    ONNX_MODEL,
    TRAINING,
    ModelCard,
    import_modules,
    load_model,
    load_training,
    network_class,
    save_training,
    write_model_files,
)
from nas_pattern.networks import NETWORKS, TorchNetwork, default_space, get_network
from nas_pattern.records import Best, InvalidArchitecture, first_line
from nas_pattern.run_dir import CONFIG, RunDirectory
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import Epoch, ResumeMismatch, TrainConfig, device_name, resolve_device
from nas_pattern.worker import dataset_on, failure_kind

DEFAULT_EPOCHS = 10


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m nas_pattern.train", description=(__doc__ or "").split("\n\nOne piece:")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SOURCE", nargs="?", help="a run directory (its best architecture), a model file ("
                   f"{MODEL}: its architecture, trained again from scratch), or a JSON file of one architecture "
                   "({\"layers\": [...]}, as episodes.jsonl writes it)")
    p.add_argument("--episode", type=int, metavar="N", help="with a run directory: train episode N instead of "
                   "the best")
    p.add_argument("--epochs", type=number(int, 1), metavar="E",
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
    p.add_argument("--data-dir", help="directory of the dataset files, an npz dataset's file (default: the run's "
                   "or the model's, where they still are, or Debian's Fashion-MNIST)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: auto")
    p.add_argument("--seed", type=int, help="seeds the weights and the batch order (default: 0)")
    p.add_argument("--out", metavar="DIR", help=f"where best.pt and best.onnx go; a DIR that holds either, a "
                   f"{TRAINING} or a search's {CONFIG} already is refused (default: <run dir>/retrained-<E>-epochs, "
                   "or -2, -3, ... when that one exists; runs/train-<time> for a file)")
    p.add_argument("--resume", metavar="DIR", help=f"go on with the training stopped in DIR (its {TRAINING}, "
                   "written at the end of each epoch), with the settings it was started with, to the model it "
                   "would have given unstopped; no SOURCE then, and no other flag but --data-dir, --import and "
                   "--no-tensorboard")
    p.add_argument("--import", dest="modules", action="append", default=[], metavar="MODULE", help=IMPORT_HELP)
    p.add_argument("--no-tensorboard", action="store_true", help="write no TensorBoard event files (by default "
                   "the learning curve, a point per epoch, goes to <output folder>/tensorboard/ when the "
                   "tensorboard package is installed: tensorboard --logdir runs/ shows it beside the search)")
    return p


# The flags a --resume takes from the checkpoint (--data-dir may be given: the dataset may have moved)
STARTING_FLAGS = ("source", "episode", "epochs", "train_limit", "with_validation", "network", "space", "dataset",
                  "device", "seed", "out")


def check_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """SOURCE or --resume, and nothing a --resume takes from its checkpoint; the defaults filled in."""
    if args.resume is None and args.source is None:
        parser.error("give SOURCE (a run directory, a model file or an architecture file), or --resume DIR")
    if args.resume is not None:
        # given: not None, and not a switch left off (False; `--seed 0` is given, though 0 == False)
        given = [name for name in STARTING_FLAGS if (value := getattr(args, name)) is not None and value is not False]
        if given:
            flag = "SOURCE" if given[0] == "source" else "--" + given[0].replace("_", "-")
            parser.error(f"--resume goes on with the settings its training was started with: {flag} cannot be "
                         "given with it (--data-dir can, where the dataset has moved, --import and --no-tensorboard)")
    args.epochs = DEFAULT_EPOCHS if args.epochs is None else args.epochs
    args.device = args.device or "auto"
    args.seed = 0 if args.seed is None else args.seed


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
        data = {"dataset": found.card.dataset, "data_dir": found.card.data_here, "episode": found.card.episode}
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
            if RunDirectory(out).configured:  # a search with no best.pt yet, or whose best.pt was moved away
                raise ValueError(f"--out {out} is a search's run directory (it holds {CONFIG}), whose best.pt and "
                                 "TensorBoard run are the search's: choose another --out (without one, a run "
                                 "directory's retraining goes to a folder of its own in it, retrained-<E>-epochs)")
            model = next((name for name in (MODEL, ONNX_MODEL) if (out / name).exists()), None)
            if model:  # best.onnx alone: a model exported from elsewhere, or one whose best.pt was moved
                raise ValueError(f"--out {out} already holds {model}, a model trained before; choose another --out "
                                 "(nothing is overwritten)")
            if (out / TRAINING).exists():
                raise ValueError(f"--out {out} holds {TRAINING}, a training that was stopped: go on with it with "
                                 f"--resume {out}, or choose another --out")
            out.mkdir(parents=True, exist_ok=True)  # yours: it may exist
        else:
            base = (source / f"retrained-{args.epochs}-epochs" if source.is_dir()
                    else Path("runs") / f"train-{time.strftime('%Y%m%d-%H%M%S')}")
            out, made = base, outermost_missing(base)  # `out` names it in an error
            out = fresh_directory(base)
    except FileExistsError:  # --out names a file
        raise ValueError(f"output folder {out} cannot be created: a file has its name") from None
    except OSError as err:
        where = "" if err.filename in (None, str(out)) else f" ({err.filename})"  # a folder above it, say
        raise ValueError(f"output folder {out} cannot be created: {err.strerror or err}{where}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {out} is not writable")
    return out, made


def resumed(args: argparse.Namespace) -> tuple[Chosen, dict[str, Any]]:
    """What the checkpoint of --resume DIR trains, and the state to go on from, with `args` set to the
    settings its training was started with; ValueError/FileNotFoundError in one line."""
    folder = Path(args.resume)
    file = folder / TRAINING
    if RunDirectory(folder).configured:  # a search's: what the other command resumes
        where = shlex.quote(str(folder))
        raise ValueError(f"{folder} is a search's run directory, not a training's folder: go on with the search "
                         f"with python -m nas_pattern.run --resume {where}, or retrain its best with "
                         f"python -m nas_pattern.train {where} --epochs N")
    if (folder / MODEL).exists():
        raise ValueError(f"{folder} holds {MODEL}: its training has finished, and there is nothing to resume")
    if not file.is_file():
        if not folder.is_dir():
            raise FileNotFoundError(f"--resume {folder}: there is no such folder")
        raise ValueError(f"{folder} holds no {TRAINING} to go on from (a training writes it at the end of each "
                         "epoch)")
    card, job, state = load_training(file)
    cls = network_class(card.network)
    space = SearchSpace.from_json(card.space, source=str(file))
    architecture = space.parse(card.architecture)
    args.epochs, args.train_limit, args.with_validation = job["epochs"], job["train_limit"], job["with_validation"]
    args.seed, args.device, args.dataset = job["seed"], job["device"], card.dataset
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{folder}'s training ran on a CUDA GPU, and torch sees none here")
    state["train_config"] = card.train_config  # trained on as it began, whatever this machine's defaults
    return (cls, space, architecture, {"dataset": card.dataset, "data_dir": job["data_dir"],
                                       "episode": card.episode}), state


def hold(out: Path) -> int | None:
    """The output folder, held for this training until the descriptor is closed; ValueError while
    another training holds it (two would write the same checkpoint and model)."""
    try:
        return hold_directory(out)
    except BlockingIOError:
        raise ValueError(f"{out} is in use by another training that is still running; let it end, or stop it "
                         f"and go on with --resume {out}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_flags(args, parser)
    try:
        with sigterm_as_interrupt():  # SIGTERM is Ctrl-C throughout: while the data loads too
            return _main(args, parser.prog)
    except KeyboardInterrupt:  # before the training began (_train says what it keeps once it has)
        if args.resume is not None:
            print(f"\n{parser.prog}: interrupted before the training went on; {args.resume} keeps what it kept: "
                  f"{resume_training(args.resume)} goes on from there", file=sys.stderr)
        else:
            print(f"\n{parser.prog}: interrupted before the training began; no model was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def resume_training(folder: object) -> str:
    """The command that goes on with the training kept in `folder`, quoted to be pasted into a shell."""
    return f"python -m nas_pattern.train --resume {shlex.quote(str(folder))}"


def _main(args: argparse.Namespace, prog: str) -> int:
    """main() once the flags are read: the model or architecture, the data and the output folder,
    then _train()."""
    state: dict[str, Any] | None = None  # with --resume: the checkpoint's, to go on from
    try:
        import_modules(args.modules)
        if args.resume is not None:
            (cls, space, architecture, stored), state = resumed(args)
        else:
            cls, space, architecture, stored = architecture_of(args)
        device = resolve_device(args.device)
        data = load_dataset(args.dataset or stored["dataset"], args.data_dir or stored["data_dir"])
    except INPUT_ERRORS as err:
        print(f"{prog}: error: {input_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    config = TrainConfig(**state["train_config"]) if state is not None else TrainConfig.for_device(device)
    # on the device once, as a search's worker has it: not again for each epoch's validation pass
    data = dataset_on(data, device, config.channels_last)
    train = data.train.head(args.train_limit)
    if args.with_validation:
        train = train.join(data.val, "train+val")
    network = cls(architecture, data.input_shape, data.num_classes, train_config=config, device=device,
                  seed=args.seed)
    network.resume = state
    held = None
    try:
        network.check(space)  # e.g. an architecture file that pools a small image below 1x1
        # last, so that nothing is made for a run that is refused
        out, made = (Path(args.resume), None) if args.resume is not None else output_dir(args)
        held = hold(out)
        if (out / MODEL).exists():  # another --resume finished it while this one was starting
            raise ValueError(f"{out} holds {MODEL}: its training has finished, and there is nothing to resume")
    except ValueError as err:  # InvalidArchitecture is one: it names the architecture
        if held is not None:
            os.close(held)
        named = f"{architecture.describe()}: " if isinstance(err, InvalidArchitecture) else ""
        print(f"{prog}: error: {named}{err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _train(args, prog, network, space, data, train, (out, made), stored, state)
    finally:
        if held is not None:
            os.close(held)  # closing it drops the hold


def stopped_alike(out: Path, card: ModelCard, job: dict[str, Any]) -> list[tuple[Path, int]]:
    """The default folders beside `out` (retrained-<E>-epochs-N, runs/train-<time>) that hold this very
    training (the same architecture, data and settings), stopped: each with the epochs it kept, for
    a --resume that would not start again from nothing. Those still training (held) are left out."""
    same = ("epochs", "train_limit", "with_validation", "seed")
    prefix = "retrained-" if out.name.startswith("retrained-") else "train-"
    found = []
    for folder in sorted(out.parent.glob(f"{prefix}*")):
        if folder == out or not (folder / TRAINING).is_file() or (folder / MODEL).exists():
            continue
        try:
            held = hold_directory(folder)
            if held is not None:
                os.close(held)
            other, other_job, state = load_training(folder / TRAINING)
        except (BlockingIOError, OSError, ValueError):  # still training, or not one to go on with
            continue
        if (other.network, other.architecture, other.dataset) == (card.network, card.architecture, card.dataset) \
                and all(other_job[key] == job[key] for key in same):
            found.append((folder, int(state["epochs"])))
    return found


def _train(args: argparse.Namespace, prog: str, network: TorchNetwork, space: SearchSpace, data: Dataset,
           train: Split, output: tuple[Path, Path | None], stored: dict[str, Any], state: dict[str, Any] | None) -> int:
    """Train, test and write the model into the output folder (output_dir()'s pair), keeping the
    training's state there after each epoch; the exit status."""
    (out, made), cls, architecture = output, type(network), network.architecture
    config, device = network.train_config, network.device
    how = f"nas_pattern.train: {args.epochs} epoch(s) on {len(train):,} images ({train.name}), seed {args.seed}"
    card = ModelCard.of(cls, architecture, space, data, config, episode=stored["episode"],
                        trained=how, val_metrics=None, test_metrics=None)
    job = {"epochs": args.epochs, "train_limit": args.train_limit, "with_validation": args.with_validation,
           "seed": args.seed, "data_dir": args.data_dir or stored["data_dir"], "device": device.type}
    done = state["epochs"] if state is not None else 0  # the epochs kept in out/TRAINING
    before = float(state.get("elapsed", 0.0)) if state is not None else 0.0  # this command's seconds before a resume
    progress = tqdm(total=args.epochs, initial=done, unit="epoch", dynamic_ncols=True, file=sys.stdout,
                    disable=not sys.stdout.isatty())  # in a log, a line per epoch is the progress

    log: TrainingLog | None = None  # the learning curve in TensorBoard, from the first epoch kept here on

    def epoch_done(epoch: Epoch) -> None:  # its state first: an epoch shown is an epoch kept
        nonlocal done, log
        save_training(out / TRAINING, card, job, {**epoch.state(), "elapsed": before + time.perf_counter() - start})
        done = epoch.number
        # the learning curve on the validation images, where they are not trained on (about 2% of an epoch)
        accuracy = None if args.with_validation else network.evaluate(data.val).accuracy
        if log is None and not args.no_tensorboard and board.available():
            log = TrainingLog(out / EVENTS, first_epoch=epoch.number)
        if log is not None:
            log.epoch(epoch.number, epoch.loss, accuracy)
        val = "" if accuracy is None else f", validation accuracy {accuracy:.4f}"
        if progress.disable:
            print(f"  epoch {epoch.number}/{args.epochs}: training loss {epoch.loss:.4f}{val}", flush=True)
        progress.set_postfix_str(f"loss {epoch.loss:.4f}{val.replace(', validation accuracy', ', val')}")
        progress.update()

    def kept() -> str:  # what a stopped training leaves, and how to go on with it
        if not done:
            return ""
        epochs = f"epoch 1 of {args.epochs} is" if done == 1 else f"epochs 1-{done} of {args.epochs} are"
        return f"; {epochs} kept in {out / TRAINING}: {resume_training(out)} goes on from there"

    def no_model(message: str) -> None:  # a default folder made for the model goes with it, unless it keeps epochs
        progress.close()
        if log is not None:
            log.close()
        if args.out is None and state is None and not done:
            remove_made(out, made)  # and runs/ if it was made for it
        print(message + kept(), file=sys.stderr)

    network.on_epoch = epoch_done
    start, bound = time.perf_counter(), None
    try:
        # Ctrl-C or SIGTERM (main's sigterm_as_interrupt): what is kept is said; a model too large for the
        # machine: an error, not the OOM killer
        with memory_bound(device) as bound:
            going_on = f"Going on with {out / TRAINING} after epoch {done}: t" if state is not None else "T"
            for folder, kept_there in stopped_alike(out, card, job) if state is None and args.out is None else []:
                print(f"Note: {folder} holds this same training, stopped after epoch {kept_there} of {args.epochs}: "
                      f"{resume_training(folder)} goes on with it; this one starts anew in {out}.")
            print(f"{going_on}raining {cls.__name__} {architecture.describe()} on {data.name}: {len(train):,} images "
                  f"({train.name}), {args.epochs} epoch(s), batch {config.batch_size}, on {device_name(device)}.")
            network.build()
            network.train(train, args.epochs)
            progress.close()
            if log is not None:
                log.close()
            val = None if args.with_validation else network.evaluate(data.val)
            test = network.evaluate(data.test)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: no model to write
        no_model(f"\n{prog}: interrupted; no model was written")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # its output closed while it trained (`| head`): it stops as on Ctrl-C
        drop_output()
        no_model(f"{prog}: its output was closed; no model was written")
        return EXIT_INTERRUPTED
    except ResumeMismatch as err:  # a training.pt that is not of the architecture its card names
        progress.close()
        print(f"{prog}: error: {out / TRAINING} is damaged: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:  # the checkpoint could not be written: the one before it is whole
        if err.errno not in UNWRITABLE:
            raise
        no_model(f"{prog}: error: cannot write {out / TRAINING}: {err.strerror or err}; no model was written")
        return EXIT_FAILED
    except (RuntimeError, MemoryError) as err:  # out of memory, or a loss that is not finite
        if (kind := failure_kind(err)) not in ("oom", "nan"):
            raise
        no_model(f"{prog}: error: {architecture.describe()} could not be trained: "
                 f"{'out of memory' if kind == 'oom' else 'the loss became NaN or infinite'}: {first_line(err)}"
                 f"{bound_note(bound) if kind == 'oom' else ''}; no model was written")
        return EXIT_FAILED
    seconds = before + time.perf_counter() - start
    card = dataclasses.replace(card, val_metrics=val.to_json() if val else None, test_metrics=test.to_json())
    assert network.module is not None
    try:
        if val is not None:
            print(f"Validation accuracy  {val.accuracy:.4f}")
        print(f"Test accuracy        {test.accuracy:.4f}   ({args.epochs} epoch(s), {seconds:.0f} s on "
              f"{device_name(device)})")
    except BrokenPipeError:  # its output closed once it had trained: the model is written all the same
        drop_output()
    try:
        path, onnx, check = write_model_files(out, card, network.module.state_dict(), data.test.x)
    except OSError as err:  # a full disk: no half-written best.pt is left (write_atomically)
        print(f"{prog}: error: cannot write the model to {out}: {err.strerror or err}{kept()}", file=sys.stderr)
        return EXIT_FAILED
    for leftover in (TRAINING, TRAINING + ".tmp"):  # the model is whole: its training's state is no longer needed
        (out / leftover).unlink(missing_ok=True)  # (.tmp: the half copy of a kill -9 in a checkpoint's write)
    print(f"Model                {path}")
    print(f"ONNX                 {f'{out / ONNX_MODEL} ({check})' if onnx else f'not written: {check}'}")
    print(f"Classify images      python -m nas_pattern.predict {shlex.quote(str(out))} IMAGE...")
    return 0


if __name__ == "__main__":
    sys.exit(main())

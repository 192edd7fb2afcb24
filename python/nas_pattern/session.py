"""Opening a search: a RunConfig becomes a ready NASController with its agent, network, data,
executor and run directory (new, or reopened to resume). The CLI and the JVM gateway both open
their searches here, test the best with Search.final_test(), and finish them with finish().

One piece: what a resume reads back (the record, the checkpoint, the derivation's children, the
final retraining's epochs) and what the search then writes at its end are two sides of the same
run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from nas_pattern import board, plots
from nas_pattern.agents import make_agent
from nas_pattern.config import SETTING, RunConfig, build_parser, new_config, resumed_config
from nas_pattern.controller import RETRIED, NASController
from nas_pattern.data import load_dataset
from nas_pattern.executor import Executor, LocalExecutor, RayExecutor
from nas_pattern.files import UNWRITABLE, fresh_directory, outermost_missing, remove_made
from nas_pattern.model import MODEL, ONNX_MODEL, write_model_files
from nas_pattern.networks import default_space, get_network
from nas_pattern.records import Episode, SearchResult, children_recorded, resume_command, resume_config
from nas_pattern.run_dir import RunDirectory
from nas_pattern.search_space import SearchSpace
from nas_pattern.trainer import Epoch, device_name


def make_executor(config: RunConfig) -> Executor:
    if config.executor == "ray":
        if config.children_at_once > 1:  # asked for with Ray, or kept by a resume that moved to Ray
            raise ValueError("--children-at-once is for the local executor; with --executor ray, "
                             "--gpus-per-child says how many children share a GPU")
        return RayExecutor(address=config.ray_address, gpus_per_child=config.gpus_per_child,
                           max_workers=config.agent_config.children_per_update)
    per_update = config.agent_config.children_per_update
    if config.children_at_once > per_update:  # its other worker processes would only wait, each holding the data
        raise ValueError(f"--children-at-once {config.children_at_once} is more than the {per_update} children of a "
                         f"policy update (--children-per-update): at most {per_update} can train at once")
    return LocalExecutor(config.children_at_once)


class RunFinished(Exception):
    """--resume named a run directory whose search has finished (it holds summary.json), and asked
    for no more episodes than it was given."""


@dataclass
class Search:
    """A search ready to run, built from flags: by main() for the CLI, by the gateway for the JVM."""

    controller: NASController
    config: RunConfig
    run_dir: RunDirectory
    warning: str | None  # what was repaired in the run directory on resume, if anything
    board: board.TensorBoardLog | None = None  # the event files being written, if they are
    final_kept: tuple[dict[str, Any], dict[str, Any]] | None = None  # final-training.pt's job and state
    final_epochs_kept: int = 0  # epochs of the final retraining in final-training.pt that a resume goes on after
    derived_kept: list[Episode] = dataclasses.field(default_factory=list)  # derived.json's, read on resume
    derived_count: int = 0  # the derivation's children trained from scratch and kept in derived.json

    def derive(self, result: SearchResult, top: int | None = None,
               callback: Callable[[Episode], None] | None = None) -> SearchResult:
        """The controller's derive() (with weight sharing), each architecture it trains from scratch
        kept in derived.json as it ends; a resume takes those a search stopped in its derivation
        kept (derived_kept) as they are, not trained again. `callback` shows each, once kept."""
        derived: list[Episode] = []

        def keep(episode: Episode) -> None:
            derived.append(episode)
            self.run_dir.save_derived(derived)
            self.derived_count = len(derived)
            if callback is not None:
                callback(episode)

        return self.controller.derive(result, top, keep, recorded=self.derived_kept)

    def retry(self, jvm: bool = False) -> str:
        """After a SearchFailed, how to go on where children failed for want of time or memory
        (controller.RETRIED), which a resume with a longer --child-timeout or another --device may
        cure: the command (or, for the JVM, a new controller's config) that resumes the search and
        may draw them again; "" where none failed so."""
        history, path = self.controller.history, self.run_dir.path
        kinds = sorted({e.status for e in history} & set(RETRIED), reverse=True)  # timeout, then oom
        if not kinds:
            return ""
        what = " or ".join({"timeout": "timed out", "oom": "ran out of memory"}[kind] for kind in kinds)
        settings = [("child-timeout", "SECONDS")] * ("timeout" in kinds) + [("device", "DEVICE")] * ("oom" in kinds)
        if jvm:  # a JVM's search(n) sets its own budget
            config = "".join(f', "{key}": {value}' for key, value in settings)
            how = f"a new controller with {resume_config(path)[:-1]}{config}}}"
        else:
            spent = len(history) >= self.config.search.episodes
            how = resume_command(path) + "".join(f" --{key} {value}" for key, value in settings) + \
                (f" (with --episodes above {len(history)}: the budget is spent)" if spent else "")
        return f"; {children_recorded(len(history))} in {path}, and a resume may draw again those that {what}: {how}"

    def final_going_on(self, result: SearchResult) -> int:
        """How many epochs of the final retraining of `result`'s best final_test() takes from
        final-training.pt: those kept there, if it retrains the same child the same way (the same
        episode, seed, device and training settings) for at least as many epochs; else 0."""
        epochs = self.config.final_epochs
        if self.final_kept is None or epochs == 0:
            return 0
        job, state = self.final_kept
        kept = int(state.get("epochs", 0))
        return kept if job == self._final_job(result) and kept <= epochs else 0

    def final_test(self, result: SearchResult, on_epoch: Callable[[Epoch], None] | None = None) -> SearchResult:
        """The controller's final_test() with --final-epochs, each epoch of the retraining kept in
        final-training.pt as it ends (in a Ray worker too: the executor sends it back), going on
        after the epochs kept there by a search stopped in it (final_going_on()); `on_epoch` shows
        the epoch once kept."""
        epochs = self.config.final_epochs
        going_on = self.final_going_on(result)
        resume = self.final_kept[1] if self.final_kept is not None and going_on else None
        self.final_epochs_kept = going_on
        job = self._final_job(result)
        log: board.TrainingLog | None = None  # its learning curve, beside the search's event files

        def keep(epoch: Epoch) -> None:
            nonlocal log
            self.run_dir.save_final_training(job, epoch.state())
            self.final_epochs_kept = epoch.number
            if log is None and self.board is not None:
                log = board.TrainingLog(self.run_dir.path / board.EVENTS / board.FINAL, first_epoch=epoch.number)
            if log is not None:
                log.epoch(epoch.number, epoch.loss, None)  # no validation accuracy: it trains on those images
            if on_epoch is not None:
                on_epoch(epoch)

        try:
            return self.controller.final_test(result, epochs, resume, keep)
        finally:
            if log is not None:
                log.close()

    def _final_job(self, result: SearchResult) -> dict[str, Any]:
        """What decides the final retraining's weights, besides its epochs and the dataset."""
        return {"episode": result.best.episode, "architecture": result.best.architecture.describe(),
                "seed": self.config.search.seed, "device": str(self.controller.device),
                "train": dataclasses.asdict(self.controller.train_config)}

    def close(self) -> None:
        """Release what the search holds: the executor's workers, the event files, the run directory."""
        if self.board is not None:
            self.board.close()
        self.controller.executor.close()
        self.run_dir.release()

    def set_budget(self, episodes: int) -> None:
        """Make the search's budget `episodes` children, in the controller and in config.json (so
        that a resume from the CLI continues with it)."""
        self.controller.config = replace(self.controller.config, episodes=episodes)
        self.config = replace(self.config, search=replace(self.config.search, episodes=episodes))
        self.run_dir.write_config(config_record(self.config, self.controller.agent.space))


def config_record(config: RunConfig, space: SearchSpace) -> dict[str, Any]:
    """What config.json holds: the run's configuration and its search space."""
    return {"config": dataclasses.asdict(config), "space": space.to_json()}


def open_search(args: argparse.Namespace, claim: Callable[[Path], None] | None = None) -> Search:
    """Check the flags, load the data, and create (or reopen, with --resume) the run directory,
    which the search holds until it is closed (RunDirectory.hold: one search at a time).

    Bad input raises ValueError or FileNotFoundError before anything is written. `claim(path)` is
    called with the run directory before anything is written there; it raises ValueError if the
    directory is taken (the gateway's engine refuses one that another of its controllers holds).
    """
    original: RunConfig | None = None  # resuming: the search config.json holds
    made: Path | None = None  # the outermost folder a new search made for its default run directory
    if args.resume:
        run_dir = RunDirectory(args.resume)
        stored = run_dir.read_config("resume")
        space = SearchSpace.from_json(stored["space"], source=f"{run_dir.path}/config.json")
        original = RunConfig.from_json(stored["config"])
        config = resumed_config(args, original, space)
        finished = run_dir.finished_budget()
        done = len(run_dir.peek_episodes(space))  # read only: a refusal writes nothing, not even a repair
        if finished is not None and config.search.episodes <= finished:
            raise RunFinished(f"{run_dir.path} holds a finished search (summary.json; its budget: {finished} "
                              f"episodes); nothing to resume. To extend it: --resume "
                              f"{shlex.quote(str(run_dir.path))} --episodes N, with N above {max(finished, done)}.")
        if args.episodes is not None and args.episodes < done:
            raise ValueError(f"cannot resume {run_dir.path} with --episodes {args.episodes}: {done} children are "
                             f"recorded already (--episodes {done} ends the search with them)")
        if claim is not None:
            claim(run_dir.path)
        run_dir.hold()  # before the record is read: a torn last line may be one another search is writing
    else:
        config = new_config(args)
        space = SearchSpace.load(config.space) if config.space else default_space(config.network)
        if config.space:  # before the data loads, and the message names the file
            try:
                get_network(config.network).check_space(space)
            except ValueError as err:
                raise ValueError(f"search space file {config.space}: {err}") from None
        if not args.run_dir:  # the default, runs/<dataset>-<network>-<time>: made now, so that it is ours
            made = outermost_missing(Path(config.run_dir))
            config = replace(config, run_dir=_fresh(config.run_dir))
        run_dir = RunDirectory(config.run_dir)
        run_dir.check()
        if claim is not None:
            claim(run_dir.path)
    try:
        return _opened(run_dir, config, space, original)
    except BaseException:
        run_dir.release()
        if original is None and not args.run_dir:  # the default directory made for a search refused, and
            remove_made(run_dir.path, made)  # runs/ if it made that too: each only if it is empty
        raise


def _fresh(base: str) -> str:
    """The default run directory, made now (files.fresh_directory): searches started in the same
    second each get their own."""
    try:
        return str(fresh_directory(Path(base)))
    except OSError as err:
        raise ValueError(f"run directory {err.filename or base} cannot be created: {err.strerror or err}") from None


def _opened(run_dir: RunDirectory, config: RunConfig, space: SearchSpace,
            original: RunConfig | None) -> Search:
    """open_search() once the flags are checked: the record read back (resuming the search that
    config.json holds, `original`), the data, the controller; a new run directory is created last."""
    records: list[Episode] = []
    derived: list[Episode] = []
    warning, checkpoint, final_kept = None, None, None
    if original is not None:
        records, warning = run_dir.read_episodes(space)
        checkpoint = run_dir.read_checkpoint()
        lost = []  # what cannot be read of the search's end: nothing of the search itself is lost
        try:
            derived = run_dir.read_derived(space)
        except ValueError as err:
            lost.append(f"{err}: the derivation trains its architectures from scratch again")
        try:
            final_kept = run_dir.read_final_training()
        except ValueError as err:
            lost.append(f"{err}: the final retraining starts from its first epoch")
        warning = "; ".join([warning, *lost] if warning else lost) or None
    data = load_dataset(config.dataset, config.data_dir)
    controller = NASController(make_agent(config.agent, space, config.agent_config), data,
                               network=get_network(config.network), config=config.search,
                               train_config=config.train, device=config.device, executor=make_executor(config))
    try:
        if original is not None:
            if controller.restore(records, checkpoint):  # failures it may cure drawn again: from here on
                run_dir.save_checkpoint(controller.state_dict())
            if config != original:  # what this resume changed is kept, should it be cut short in its turn
                run_dir.write_config(config_record(config, space))
        else:
            run_dir.create(config_record(config, space))
        search = Search(controller, config, run_dir, warning, final_kept=final_kept, derived_kept=derived)
        if config.tensorboard and board.available():  # before the Recorder: a child's events before its line
            search.board = board.TensorBoardLog(run_dir.path / board.EVENTS, controller,
                                                first_episode=len(records) + 1)
        elif config.tensorboard:
            missing = "the tensorboard package is not installed (pip install tensorboard): no event files"
            search.warning = f"{search.warning}; {missing}" if search.warning else missing
    except OSError as err:
        controller.executor.close()
        if err.errno not in UNWRITABLE:
            raise
        raise ValueError(f"cannot write to {run_dir.path}: {err.strerror}; what it held is as it was") from None
    except BaseException:
        controller.executor.close()
        raise
    return search


def args_from_json(text: str) -> argparse.Namespace:
    """A JSON config read as the CLI reads its flags: the keys are the flags without their dashes
    ("train-limit", or "train_limit"), the values strings or numbers, true or false for a switch
    ("deterministic"). ValueError if it is bad, a null value included."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"config is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config must be a JSON object of flags, got {type(data).__name__}: {text[:60]}")
    known = sorted([*SETTING, "resume"])  # the settings, and the run directory to continue
    argv = []
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ValueError(f"unknown config key {key!r}; expected one of: "
                             f"{', '.join(k.replace('_', '-') for k in known)}")
        if name in SETTING and SETTING[name].switch:
            if not isinstance(value, bool):
                raise ValueError(f"config key {key!r} is a switch: true or false, got {json.dumps(value)}")
            argv += ["--" + name.replace("_", "-")] if value else []
            continue
        if value is None:  # a null is a mistake (a Java map's missing value), not "the default"
            raise ValueError(f"config key {key!r} is null: give it a value, or leave the key out for its default")
        if isinstance(value, (bool, dict, list)):
            given = json.dumps(value)
            given = given if len(given) <= 60 else f"{given[:57]}..."
            what = " (the path of a search space file: write the space to one)" if name == "space" else ""
            raise ValueError(f"config key {key!r} must be a string or a number{what}, got {given}")
        argv += ["--" + name.replace("_", "-"), str(value)]
    return build_parser(raise_errors=True).parse_args(argv)


def finish(search: Search, result: SearchResult) -> list[str]:
    """Write best.pt with the tested model, best.onnx, summary.json and the figures, for a tested
    result; return what was written of the model, one line each, for the caller to show."""
    directory = search.run_dir.path
    model = save_final_model(search, result)
    search.run_dir.write_summary({**result.to_json(), "config": dataclasses.asdict(search.config),
                                  "device": device_name(search.controller.device), "torch": torch.__version__,
                                  "model": model})
    plots.plot_search(directory, result.episodes, result.derived)
    plots.plot_pareto(directory, result, search.config.agent_config.objective.target_params)
    plots.plot_graph(directory, result.best.architecture, f"best architecture (episode {result.best.episode})")
    probabilities = search.controller.agent.choice_probabilities()
    if probabilities is not None:
        plots.plot_policy(directory, search.controller.agent.space, probabilities,
                          "the policy at the end of the search")
    if search.board is not None:  # on disk now; still open for a next search() on this controller (the JVM's)
        search.board.flush()
    if model["file"] is None:
        return [f"{MODEL} not written: {model['trained']}"]
    lines = [f"{directory / MODEL} ({model['trained']}; load it with nas_pattern.load_model)"]
    if model["onnx"] is not None:
        lines.append(f"{directory / ONNX_MODEL} ({model['onnx_check']})")
    else:
        lines.append(f"{ONNX_MODEL} not written: {model['onnx_check']}")
    return lines


def save_final_model(search: Search, result: SearchResult) -> dict[str, str | None]:
    """best.pt with the weights final_test() tested, then best.onnx checked against them; what was
    written, by file name (summary.json's "model")."""
    controller = search.controller
    try:
        card, weights = controller.found(result)
    except ValueError as err:
        return {"file": None, "trained": str(err), "onnx": None, "onnx_check": None}
    _, onnx, check = write_model_files(search.run_dir.path, card, weights, controller.data.test.x)
    return {"file": MODEL, "trained": card.trained, "onnx": ONNX_MODEL if onnx else None, "onnx_check": check}

"""`python -m nas_pattern.run`: search for a child architecture from the command line.

Flags become one RunConfig (nas_pattern.config); bad input is answered with one line and exit
status 2 before anything is written; the search (nas_pattern.session) then prints one line per
child and a summary at the end. `--resume DIR` continues a search that was stopped or killed.

One piece: what the command prints, from its header through each child and the final retraining to
the summary, and what a stop keeps, change together.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from nas_pattern import board
from nas_pattern.agents import Objective
from nas_pattern.config import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, INPUT_ERRORS, build_parser
from nas_pattern.data import FOLDER, NPZ
from nas_pattern.files import UNWRITABLE, drop_output, input_error, sigterm_as_interrupt
from nas_pattern.model import MODEL
from nas_pattern.plots import GRAPH_PLOT, PARETO_PLOT, POLICY_PLOT, SEARCH_PLOT
from nas_pattern.records import (
    FAILURES,
    PENALTY,
    Episode,
    SearchFailed,
    SearchResult,
    children_recorded,
    counted,
    resume_command,
)
from nas_pattern.run_dir import FINAL_TRAINING, Recorder, RunDirectoryLost
from nas_pattern.session import RunFinished, Search, finish, open_search
from nas_pattern.trainer import device_name


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        with sigterm_as_interrupt():  # SIGTERM is Ctrl-C throughout: while the data loads or Ray starts too
            return _main(args, argv)
    except KeyboardInterrupt:  # a second one while the search closes (its workers, Ray): what was said stands
        print("\nnas-pattern: interrupted as the search closed", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        search = open_search(args)
    except RunFinished as done:
        print(done)
        return 0
    except INPUT_ERRORS as err:
        print(f"nas-pattern: error: {input_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while the data loads or Ray starts: no child has begun
        if args.resume:  # the same command goes on (with what it changes: --episodes, say)
            print(f"\nnas-pattern: interrupted before the search went on; its record in {args.resume} is kept. "
                  f"Continue with: python -m nas_pattern.run {shlex.join(argv)}", file=sys.stderr)
        else:
            print("\nnas-pattern: interrupted before the search began; nothing was recorded", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _search(search)


def _search(search: Search) -> int:
    try:
        if search.warning:
            print(f"nas-pattern: warning: {search.warning}", file=sys.stderr)
        return _run(search)
    except (KeyboardInterrupt, BrokenPipeError) as stop:  # before the first child, or after the summary is written
        why = _stopped_by(stop)
        finished = (search.run_dir.finished_budget() or 0) >= search.config.search.episodes
        path = search.run_dir.path
        print(f"{why}; " + (f"the search finished, recorded in {path}" if finished else
              f"{children_recorded(len(search.controller.history))} in {path}. Continue with: {resume_command(path)}"),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        search.close()


def _stopped_by(stop: KeyboardInterrupt | BrokenPipeError) -> str:
    """How a stop begins its line: Ctrl-C or SIGTERM, or its output closed (`| head`: what is still
    printed then goes nowhere)."""
    if isinstance(stop, BrokenPipeError):
        drop_output()
        return "nas-pattern: its output was closed"
    return "\nnas-pattern: interrupted"


def _run(search: Search) -> int:
    controller, config, run_dir = search.controller, search.config, search.run_dir
    space = controller.agent.space
    done, total = len(controller.history), config.search.episodes
    if done:
        print(f"Resuming {run_dir.path}: {done:,} of {_children(total)} already recorded.")
    size = f"{space.size:,}" if space.size < 10 ** 12 else f"{space.size:.2e}".replace("e+", " x 10^")
    data = controller.data
    dataset = config.dataset if config.dataset not in (FOLDER, NPZ) else (  # one's own: what was made of it
        f"the {data.num_classes} classes of {config.data_dir}, as {'x'.join(map(str, data.input_shape))}")
    print(f"Searching {size} {config.network.upper()} architecture{'' if space.size == 1 else 's'} on {dataset} "
          f"({len(data.train):,} train / {len(data.val):,} validation / "
          f"{len(data.test):,} test images) with the {config.agent} agent on "
          f"{controller.executor.describe() or device_name(controller.device)}.")
    sharing = config.search.sharing
    images = counted(len(data.train.head(config.search.train_limit)), "image")
    if sharing is None:
        m = config.agent_config.children_per_update
        print(f"Budget: {_children(total)}{_beyond(total, space.size, 'trained')}, {config.search.epochs} epoch(s) "
              f"each on {images}, a policy update every "
              f"{m}{' (none within this budget: the agent learns nothing)' if total < m else ''}. "
              f"Recording to {run_dir.path}/")
    else:
        assert controller.worker.shared is not None
        weights = sum(p.numel() for p in controller.worker.shared.supernet.parameters())
        print(f"Weight sharing: {_children(total)}{_beyond(total, space.size, 'scored')} scored with the weights of "
              f"one supernet ({weights:,} weights) on "
              f"{counted(len(data.val.head(sharing.val_images)), 'validation image')} each, "
              f"{counted(sharing.steps, 'minibatch', 'minibatches')} of {sharing.batch_size} "
              f"of shared training before every {config.agent_config.children_per_update}; then the best "
              f"{min(sharing.derive, total)} trained from scratch, {config.search.epochs} epoch(s) on {images}. "
              f"Recording to {run_dir.path}/")
    if config.search.time_limit is not None:
        print(f"Time limit: {_duration(config.search.time_limit)} of search"
              f"{' in this session' if done else ''}; it ends with the first child past it.")
    progress = tqdm(total=total, initial=done, unit="child", dynamic_ncols=True, file=sys.stdout,
                    disable=not sys.stdout.isatty())  # in a log, the line per child is the progress
    recorder = Recorder(run_dir, controller)

    def show(episode: Episode) -> None:
        if sharing is None or not progress.disable or episode.episode % 50 == 0 or episode.episode == total:
            progress.write(_episode_line(episode, total))  # with sharing, in a log: every 50th
        progress.update()

    def show_shared(steps: int, loss: float) -> None:
        progress.set_postfix_str(f"supernet: {steps:,} minibatches, loss {loss:.3f}", refresh=False)

    controller.add_callback(show)
    controller.add_shared_callback(show_shared)
    try:  # Ctrl-C or SIGTERM (main's sigterm_as_interrupt) in here: the record is kept and the run can resume
        result = controller.search()
        progress.close()
        if sharing is not None:
            result = _derive(search, result, sharing.derive)
        going_on = search.final_going_on(result)
        print("Testing the best architecture" + (f" after retraining it for {config.final_epochs} epoch(s) "
              "on train + validation" if config.final_epochs else "")
              + (f" (going on after epoch {going_on}, kept in {FINAL_TRAINING})" if going_on else "") + " ...",
              flush=True)
        result = search.final_test(result, lambda epoch: print(  # each epoch kept, wherever it trains
            f"  final epoch {epoch.number}/{config.final_epochs}: training loss {epoch.loss:.4f}", flush=True))
        model = finish(search, result)
    except (KeyboardInterrupt, BrokenPipeError) as stop:  # Ctrl-C, SIGTERM, or its output closed (`| head`)
        progress.close()
        why = _stopped_by(stop)
        try:
            recorder.interrupted()
        except RunDirectoryLost as err:  # nothing to resume: say so, not how to
            print(f"{why}; {err}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except OSError:  # a full disk: the resume starts from the checkpoint before
            pass
        recorded = len(controller.history)
        kept, derived = search.final_epochs_kept, search.derived_count
        final = f", and {kept} of the final retraining's {config.final_epochs} epochs" if kept else \
            f", and {derived} of the derivation's architectures trained from scratch" if derived else ""
        print(f"{why}; {children_recorded(recorded)} in {run_dir.path}{final}. Continue with: "
              f"{resume_command(run_dir.path)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SearchFailed as err:
        progress.close()
        print(f"nas-pattern: error: the search stopped: {err}{search.retry()}", file=sys.stderr)
        return EXIT_FAILED
    except RunDirectoryLost as err:
        progress.close()
        print(f"nas-pattern: error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as err:  # the record cannot be written (a full disk): what is written stays whole
        if err.errno not in UNWRITABLE:
            raise
        progress.close()
        recorded = len(run_dir.peek_episodes(space))
        print(f"nas-pattern: error: cannot write to {run_dir.path}: {err.strerror or err}; "
              f"{children_recorded(recorded)} there. Once it can be written to, continue with: "
              f"{resume_command(run_dir.path)}", file=sys.stderr)
        return EXIT_FAILED
    print(_summary(result, run_dir.path, config.agent_config.objective))
    print("\nThe model found")
    for line in model:
        print(f"  {line}")
    if (run_dir.path / MODEL).exists():
        where = shlex.quote(str(run_dir.path))
        print(f"  retrain it at full budget: python -m nas_pattern.train {where} --epochs 10")
        print(f"  classify image files with it: python -m nas_pattern.predict {where} IMAGE...")
    if result.stop_reason == "failures":
        print(f"nas-pattern: error: stopped after {config.search.stop_failures} children in a row failed; "
              f"the last said: {result.episodes[-1].reason}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _derive(search: Search, result: SearchResult, top: int) -> SearchResult:
    """The derivation, with its progress: the best `top` by shared score trained from scratch (those
    a stopped search kept in derived.json taken as they are, "(recorded)")."""
    controller = search.controller
    top = min(top, len(result.trained))
    sharing = controller.config.sharing
    assert sharing is not None
    print(f"Deriving the product: the best {min(sharing.rescore, len(result.trained))} architectures by shared-weight "
          f"score scored again with the final shared weights on all {len(controller.data.val):,} validation images; "
          f"the best {top} of them trained from scratch ...")
    progress = tqdm(total=top, unit="child", dynamic_ncols=True, file=sys.stdout, disable=not sys.stdout.isatty())
    shared = {e.episode: e for e in result.trained}

    def show(e: Episode) -> None:
        score, again = shared[e.episode].accuracy, controller.rescored[e.episode].accuracy
        how = f"from scratch {e.accuracy:.4f}  {e.seconds:.1f}s" if e.status == "ok" else f"{e.status}: {e.reason}"
        recorded = "  (recorded)" if any(e is kept for kept in search.derived_kept) else ""
        progress.write(f"  episode {e.episode:>5}  {e.architecture.describe()}  shared {score:.4f}, again "
                       f"{again:.4f}  {how}{recorded}")
        progress.update()

    derived = search.derive(result, top, callback=show)
    progress.close()
    return derived


def _duration(seconds: float) -> str:
    """90 s, 45 min, 1.5 h: --time-limit as a reader would say it."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _episode_line(e: Episode, total: int) -> str:
    width = len(str(total))
    head = f"[{e.episode:>{width}}/{total}] {e.architecture.describe()}"
    tag = "  (cached)" if e.cached else ""
    if e.status != "ok":
        return f"{head}  {e.status}: {e.reason}{tag}"
    baseline = "n/a" if math.isnan(e.baseline) else f"{e.baseline:.4f}"
    val = "val" if e.evaluation == "standalone" else "shared val"
    return f"{head}  {val} {e.accuracy:.4f}  reward {e.reward:+.4f}  baseline {baseline}  {e.seconds:.1f}s{tag}"


def _summary(result: SearchResult, run_dir: Path, objective: Objective) -> str:
    """The closing table (a resumed search's time is this session's: result.recorded_before says so)."""
    assert result.test is not None
    how = (f"retrained {result.final_epochs} epoch(s) on train + validation" if result.final_epochs
           else "as trained during the search")
    c = result.counts
    failed = {kind: c[kind] for kind in FAILURES if kind != "invalid" and c[kind]}
    scored = "scored with the shared weights" if result.derived else "trained"
    children = f"{c['episodes']:,}: {c['trained']:,} {scored}, {c['cached']:,} cached, {c['invalid']:,} invalid"
    if failed:
        children += f", {sum(failed.values()):,} failed (" + ", ".join(f"{n:,} {k}" for k, n in failed.items()) + ")"
    stop = {"converged": "; stopped early, the policy converged",
            "failures": "; stopped early, children kept failing",
            "time": "; stopped early, at its time limit",
            "stopped": "; stopped early, as asked"}.get(result.stop_reason, "")
    sized = objective.reward == "accuracy-size"
    score = objective
    lines = [
        "",
        f"Best architecture    {result.best.architecture.describe()}",
        f"Validation accuracy  {result.best.accuracy:.4f}   (episode {result.best.episode})",
    ]
    if sized and result.best.metrics:
        lines.append(f"Reward objective     {score(result.best.metrics):.4f}   (accuracy x (params / "
                     f"{objective.target_params:,}) ** {objective.size_weight:g} above {objective.target_params:,} "
                     "params)")
    if result.derived and not result.final_epochs:
        how = f"trained from scratch in the derivation: the best of {len(result.derived)} on validation"
    lines += [
        f"Test accuracy        {result.test.accuracy:.4f}   ({how})",
        f"Parameters           {result.test.params:,}",
        f"Children             {children}{stop}",
        f"Search time          {result.seconds:.0f} s"
        + (f"   (this session; it resumed with {_children(result.recorded_before)} recorded)"
           if result.recorded_before else ""),
    ]
    if result.derived:
        lines.append(f"Derivation time      {result.derive_seconds:.0f} s   ({len(result.rescored)} scored again "
                     f"with the final shared weights, {len(result.derived)} of them trained from scratch)")
    lines += [
        f"Record               {run_dir}/ ({', '.join(_kept(run_dir))})",
        "",
        "Top architectures by " + ("the size-aware objective" if sized else "validation accuracy")
        + (" with the shared weights" if result.derived else ""),
        f"  {'episode':>7}  {'val acc':>7}  {'params':>9}  {'train s':>7}  " + ("objective  " if sized else "")
        + "architecture",
    ]
    for e in sorted(result.trained, key=lambda e: -score(e.metrics or PENALTY))[:5]:
        lines.append(_row(e) + (f"{score(e.metrics or PENALTY):>9.4f}  " if sized else "")
                     + e.architecture.describe())
    if result.derived:
        shared = {e.episode: e.accuracy for e in result.trained}
        lines += ["", f"Derived: the best {len(result.rescored)} by shared score, scored again with the final shared "
                  "weights on all the validation images (again);",
                  f"the best {len(result.derived)} of those trained from scratch (val acc), the best of which "
                  + ("by the objective " if sized else "") + "is the product",
                  f"  {'episode':>7}  {'shared':>7}  {'again':>7}  {'val acc':>7}  {'params':>9}  {'train s':>7}  "
                  + ("objective  " if sized else "") + "architecture"]
        lines += [f"  {e.episode:>7}  {shared[e.episode]:>7.4f}  {result.rescored[e.episode].accuracy:>7.4f}"
                  + _row(e)[9:] + (f"{score(e.metrics):>9.4f}  " if sized else "") + e.architecture.describe()
                  if e.metrics else f"  {e.episode:>7}  {e.status}: {e.reason}" for e in result.derived]
    lines += ["", "Pareto front: no other child is both more accurate and smaller"
              + (" (by its shared-weight score)" if result.derived else ""),
              f"  {'episode':>7}  {'val acc':>7}  {'params':>9}  {'train s':>7}  architecture"]
    lines += [_row(e) + e.architecture.describe() for e in result.pareto_front]
    return "\n".join(lines)


def _children(count: int) -> str:
    return counted(count, "child", "children")


def _beyond(total: int, size: int, done: str) -> str:
    """What a budget larger than the space gets: " (more than the space's 54 architectures: ...)"."""
    if total <= size:
        return ""
    return (f" (more than the space's {counted(size, 'architecture')}: at most {size:,} are {done}, the "
            f"other {total - size:,} or more are answered from the cache)")


def _kept(run_dir: Path) -> list[str]:
    """What the record holds for a reader, of the files a search may write."""
    names = ["episodes.jsonl", "summary.json", SEARCH_PLOT, PARETO_PLOT, GRAPH_PLOT, POLICY_PLOT, f"{board.EVENTS}/"]
    return [name for name in names if (run_dir / name.rstrip("/")).exists()]


def _row(e: Episode) -> str:
    assert e.metrics is not None
    return f"  {e.episode:>7}  {e.accuracy:>7.4f}  {e.metrics.params:>9,}  {e.metrics.train_seconds:>7.1f}  "


if __name__ == "__main__":
    sys.exit(main())

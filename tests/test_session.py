"""session: a search opened from flags or the JVM's JSON config, in a run directory that keeps
what it already holds."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from helpers import files, full_disk
from nas_pattern.config import SETTINGS, build_parser
from nas_pattern.records import SearchFailed
from nas_pattern.run_dir import Recorder
from nas_pattern.session import RunFinished, args_from_json, finish, open_search


def test_a_json_config_means_what_the_same_flags_mean() -> None:
    config = '{"network": "rnn", "train-limit": 300, "children_per_update": 2, "final-epochs": 0}'
    expected = build_parser().parse_args(["--network", "rnn", "--train-limit", "300",
                                          "--children-per-update", "2", "--final-epochs", "0"])
    assert args_from_json(config) == expected
    sized = args_from_json('{"reward": "accuracy-size", "target-params": 20000, "size-weight": -0.1}')
    assert sized == build_parser().parse_args(["--reward", "accuracy-size", "--target-params", "20000",
                                               "--size-weight", "-0.1"])


@pytest.mark.parametrize("config, message", [
    ('{"episodes": 0}', "argument --episodes: must be >= 1, got 0"),
    ('{"dataset": "nope"}', "argument --dataset: invalid choice: 'nope'"),
    ('{"epoch": 2}', "unknown config key 'epoch'; expected one of: agent, child-timeout,"),
    ('{"episodes": true}', "config key 'episodes' must be a string or a number, got true"),
    ('{"seed": null}', "config key 'seed' is null: give it a value, or leave the key out for its default"),
    ('{"space": {"max_layers": 1, "decisions": [{"name": "filters", "choices": [8, 16, 32, 64]}]}}',
     "config key 'space' must be a string or a number (the path of a search space file: write the space to one), "
     'got {"max_layers": 1, "decisions": [{"name": "filters", "choi...'),  # cut: the line stays short
    ('{"network": "cnn",', "config is not valid JSON: Expecting property name"),
    ('"cnn"', "config must be a JSON object of flags, got str"),
])
def test_a_bad_config_is_one_clear_line(config: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        args_from_json(config)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_refused_config_leaves_an_existing_run_untouched(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    search = open_search(args_from_json(json.dumps({"run-dir": str(run_dir), "train-limit": 100})))
    search.run_dir.record(_first_child(search))
    if search.board is not None:  # its events (the first policy picture) on disk: TensorBoard writes them from a
        search.board.flush()  # thread of its own, which under load wrote them after the snapshot below
    before = files(run_dir)
    with pytest.raises(ValueError, match="already holds a search"):
        open_search(args_from_json(json.dumps({"run-dir": str(run_dir)})))
    assert files(run_dir) == before


def test_a_run_directory_that_recorded_nothing_may_be_used_again(tmp_path: Path) -> None:
    """Issue 25: a controller created, then a refused search(-1), must not use up the directory;
    within one engine, though, a directory open in another controller is refused."""
    from nas_pattern.gateway import Engine

    run_dir = tmp_path / "run"
    first = open_search(args_from_json(json.dumps({"run-dir": str(run_dir), "train-limit": 100})))
    first.close()  # its engine gone; while it is open, the directory is held (below)
    again = open_search(args_from_json(json.dumps({"run-dir": str(run_dir), "train-limit": 200})))
    assert json.loads((run_dir / "config.json").read_text())["config"]["search"]["train_limit"] == 200
    engine = Engine(threading.Event())
    engine.searches.append(again)
    with pytest.raises(ValueError, match="open in another controller of this engine"):
        open_search(args_from_json(json.dumps({"run-dir": str(run_dir)})), claim=engine._claim)
    assert json.loads((run_dir / "config.json").read_text())["config"]["search"]["train_limit"] == 200


def test_a_run_directory_is_held_by_one_search_at_a_time(tmp_path: Path) -> None:
    """A second search in a directory another one holds is refused before it writes anything, new
    (the first has recorded nothing yet) or resumed (two would append the same episode numbers);
    once the first is closed, a resume may have it. Across processes: test_resume."""
    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "episodes": 1, "no-tensorboard": True}
    search = open_search(args_from_json(json.dumps(config)))
    before = files(run_dir)
    with pytest.raises(ValueError, match="is held by another search that is still open"):
        open_search(args_from_json(json.dumps({**config, "train-limit": 200})))
    assert files(run_dir) == before
    Recorder(search.run_dir, search.controller)
    search.controller.search()  # its child recorded, the search not finished
    before = files(run_dir)
    with pytest.raises(ValueError, match="is held by another search that is still open"):
        open_search(args_from_json(json.dumps({"resume": str(run_dir)})))
    assert files(run_dir) == before
    search.close()
    resumed = open_search(args_from_json(json.dumps({"resume": str(run_dir)})))
    assert len(resumed.controller.history) == 1
    resumed.close()


def test_the_jvm_s_next_search_cut_short_resumes_with_its_budget(tmp_path: Path) -> None:
    """search(n) after a finished search(n) raises the budget in config.json before its first child;
    if the JVM dies then, the run directory resumes to that budget instead of reading as finished."""
    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "children-per-update": 2,
              "episodes": 2, "no-tensorboard": True}
    search = open_search(args_from_json(json.dumps(config)))
    Recorder(search.run_dir, search.controller)  # as the JVM's controller records its children
    finish(search, search.controller.final_test(search.controller.search()))
    search.set_budget(len(search.controller.history) + 2)  # what the adapter's search(2) does first
    search.close()  # the JVM killed before the first of the two children
    resumed = open_search(args_from_json(json.dumps({"resume": str(run_dir)})))
    assert (len(resumed.controller.history), resumed.controller.config.episodes) == (2, 4)
    resumed.close()
    with pytest.raises(RunFinished, match=r"its budget: 2 episodes\); nothing to resume"):
        open_search(args_from_json(json.dumps({"resume": str(run_dir), "episodes": 2})))


def test_the_jvm_s_next_search_on_the_same_controller_writes_its_event_files_too(tmp_path: Path) -> None:
    """finish() closed the TensorBoard log, so a JVM's second search(2) on the same controller wrote
    no event files: the steps stopped at 2. It flushes it now (every picture waiting drawn); the
    controller's close() closes it."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "children-per-update": 2}
    search = open_search(args_from_json(json.dumps(config)))
    controller = search.controller
    for budget in (2, 4):  # what the adapter's search(2) does, twice
        search.set_budget(budget)
        finish(search, controller.final_test(controller.search()))
        events = EventAccumulator(str(run_dir / "tensorboard"))
        events.Reload()  # on disk as each search() returns, the policy after its last update drawn
        assert [e.step for e in events.Scalars("child/accuracy")] == list(range(1, budget + 1))
        assert [i.step for i in events.Images("policy/choices")][-1] == budget
    search.close()


def test_what_a_resume_changed_is_kept_for_the_next_resume(tmp_path: Path) -> None:
    """A resume cut short in its turn goes on as it was last told: its changes (the may-change
    settings) are written to config.json, and a refused change writes nothing."""
    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "episodes": 1, "no-tensorboard": True}
    search = open_search(args_from_json(json.dumps(config)))
    Recorder(search.run_dir, search.controller)
    search.controller.search()  # its child recorded, then the process gone before the summary
    search.close()
    changed = {"resume": str(run_dir), "episodes": 5, "final-epochs": 1, "child-timeout": 60}
    open_search(args_from_json(json.dumps(changed))).close()  # cut short before its first child
    stored = json.loads((run_dir / "config.json").read_text())["config"]
    assert (stored["search"]["episodes"], stored["final_epochs"], stored["search"]["child_timeout"]) == (5, 1, 60)
    assert stored["search"]["train_limit"] == 100 and stored["tensorboard"] is False  # the rest as it was
    before = files(run_dir)
    with pytest.raises(ValueError, match=r"cannot resume .* with --train-limit 200"):
        open_search(args_from_json(json.dumps({"resume": str(run_dir), "train-limit": 200})))
    assert files(run_dir) == before
    again = open_search(args_from_json(json.dumps({"resume": str(run_dir)})))
    assert (again.config.final_epochs, again.controller.config.episodes) == (1, 5)
    assert again.controller.config.child_timeout == 60 and len(again.controller.history) == 1
    again.close()


def test_a_resume_goes_on_with_the_final_retraining_kept_only_where_it_retrains_the_same_way(tmp_path: Path) -> None:
    """final-training.pt is used for the same child, seed, device and training settings, and no more
    epochs than asked; a file that cannot be read (it, or derived.json) is one warning and nothing else is lost."""
    from dataclasses import replace

    from nas_pattern.run_dir import DERIVED, FINAL_TRAINING

    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "train-limit": 100, "episodes": 1, "final-epochs": 2, "no-tensorboard": True}
    search = open_search(args_from_json(json.dumps(config)))
    Recorder(search.run_dir, search.controller)
    result = search.controller.search()
    assert search.final_going_on(result) == 0  # nothing kept
    search.run_dir.save_final_training(search._final_job(result), {"epochs": 2})  # a stop after 2 epochs
    search.close()

    def going_on(**changed) -> tuple[int, str | None]:
        again = open_search(args_from_json(json.dumps({"resume": str(run_dir), **changed})))
        try:
            result = again.controller.search()  # replayed from the record
            return again.final_going_on(result), again.warning
        finally:
            again.close()

    assert going_on() == (2, None)  # all its epochs: only the test is left
    assert going_on(**{"final-epochs": 5}) == (2, None)  # more epochs asked for: it goes on to them
    assert going_on(**{"final-epochs": 1}) == (0, None)  # fewer than it trained: retrained from the first
    again = open_search(args_from_json(json.dumps({"resume": str(run_dir), "final-epochs": 2})))
    other = again.controller.search()
    moved = replace(other, best=replace(other.best, episode=2))  # a longer search found another best
    assert again.final_going_on(other) == 2 and again.final_going_on(moved) == 0
    again.close()

    (run_dir / FINAL_TRAINING).write_bytes(b"not a checkpoint")
    (run_dir / DERIVED).write_text('{"derived": [{"episode": 1}]}')  # a weight-sharing search's, damaged
    kept, warning = going_on()
    assert kept == 0 and warning is not None
    derived, final = warning.split("; ")
    assert derived == (f"{run_dir / DERIVED} is unreadable (KeyError('status')): the derivation trains its "
                       "architectures from scratch again")
    assert final.startswith(f"{run_dir / FINAL_TRAINING} is unreadable (") and \
        final.endswith("): the final retraining starts from its first epoch"), warning
    assert (run_dir / "episodes.jsonl").read_text().count("\n") == 1  # the child as it was


def _first_child(search):
    from nas_pattern.networks.base import Metrics
    from nas_pattern.records import Episode

    architecture = search.controller.agent.space.decode([0] * len(search.controller.agent.space.num_choices))
    return Episode(episode=1, architecture=architecture, metrics=Metrics(0.5, 1.0, 10, 0.1), reward=0.5,
                   baseline=0.5, cached=False, seconds=0.1)


def test_the_json_keys_are_the_settings_and_a_switch_takes_true_or_false() -> None:
    with pytest.raises(ValueError, match="unknown config key 'nope'") as error:
        args_from_json('{"nope": 1}')
    assert all(setting.name in str(error.value) for setting in SETTINGS)
    assert args_from_json('{"deterministic": true}').deterministic is True
    assert args_from_json('{"deterministic": false}').deterministic is None  # as when the flag is left out
    with pytest.raises(ValueError, match="config key 'deterministic' is a switch: true or false, got 1"):
        args_from_json('{"deterministic": 1}')


def test_a_jvm_controller_that_cannot_record_a_child_takes_no_more_and_the_record_resumes(tmp_path: Path,
                                                                                           monkeypatch) -> None:
    """A full disk under a JVM's controller: one line, then every call that would train or record is
    refused (a child in memory that the record lacks would leave a gap in it); closed, it resumes."""
    import errno
    import os

    from nas_pattern.adapters import Controller

    class Bridge:  # what the adapter asks of the py4j bridge here: values pass as they are
        def metrics(self, metrics):
            return metrics

        def java_exception(self, error: BaseException) -> Exception:
            return RuntimeError(str(error))  # the NASException's line

    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "children-per-update": 2,
              "no-tensorboard": True}
    controller = Controller(Bridge(), open_search(args_from_json(json.dumps(config))), closed=lambda search: None,
                            caller_gone=lambda: False)
    core = controller.controller
    core.train_network(core.generate_architecture())
    controller.evaluateNetwork()  # recorded
    core.train_network(core.generate_architecture())

    def gone() -> None:
        raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")


    with monkeypatch.context() as patch:
        patch.setattr(core, "evaluate_network", gone)
        with pytest.raises(RuntimeError, match=r"^\[Errno 104\] Connection reset by peer$"):
            controller.evaluateNetwork()
    assert controller.unrecorded is None  # an OSError that is not about the files: the record is not in doubt
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full_disk)
        with pytest.raises(RuntimeError) as error:
            controller.evaluateNetwork()
    assert str(error.value) == (f"cannot write to {run_dir}: No space left on device; 1 child is recorded there, "
                                "and this NASController takes no more: close it, and once the directory can be "
                                f'written to, continue with a new controller: {{"resume": "{run_dir}"}}')
    with pytest.raises(RuntimeError, match=r"^cannot write to .* takes no more"):
        controller.evaluateNetwork()  # there is room again, but the child in memory is not in the record
    controller.close()
    resumed = open_search(args_from_json(json.dumps({"resume": str(run_dir), "episodes": 3})))
    assert len(resumed.controller.history) == 1  # whole lines: the second child's was taken back
    Recorder(resumed.run_dir, resumed.controller)
    resumed.controller.search()
    assert [json.loads(line)["episode"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()] == [1, 2, 3]
    resumed.close()


def test_a_search_that_cannot_write_its_config_is_refused_in_one_line_and_changes_nothing(tmp_path: Path,
                                                                                          monkeypatch) -> None:
    import os


    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "episodes": 1, "no-tensorboard": True}
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full_disk)
        with pytest.raises(ValueError, match=rf"^cannot write to {run_dir}: No space left on device; what it held "
                                             "is as it was$"):
            open_search(args_from_json(json.dumps(config)))
    assert list(run_dir.iterdir()) == []  # no half-written config.json, no config.json.tmp
    search = open_search(args_from_json(json.dumps(config)))  # room again: the directory is free to use
    Recorder(search.run_dir, search.controller)
    search.controller.search()
    search.close()
    before = files(run_dir)
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full_disk)
        with pytest.raises(ValueError, match=r"No space left on device; what it held is as it was$"):
            open_search(args_from_json(json.dumps({"resume": str(run_dir), "episodes": 3})))  # a changed budget
    assert files(run_dir) == before


def test_searches_started_in_the_same_second_get_a_default_run_directory_each(tmp_path: Path, monkeypatch) -> None:
    """A loop that starts a search per seed: the default runs/<dataset>-<network>-<time> is made
    when it is chosen, so the second gets <time>-2 rather than a refusal (it chose no directory)."""
    from nas_pattern import config as config_module

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_module.time, "strftime", lambda fmt: "20261205-120000")
    flags = {"network": "rnn", "train-limit": 100, "episodes": 1, "no-tensorboard": True}
    first = open_search(args_from_json(json.dumps({**flags, "seed": 1})))
    second = open_search(args_from_json(json.dumps({**flags, "seed": 2})))
    assert (str(first.run_dir.path), str(second.run_dir.path)) == ("runs/fashion-mnist-rnn-20261205-120000",
                                                                   "runs/fashion-mnist-rnn-20261205-120000-2")
    assert json.loads((second.run_dir.path / "config.json").read_text())["config"]["run_dir"] == \
        "runs/fashion-mnist-rnn-20261205-120000-2"
    first.close()
    second.close()
    with pytest.raises(FileNotFoundError, match="data directory /nonexistent does not exist"):
        open_search(args_from_json(json.dumps({**flags, "data-dir": "/nonexistent"})))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["fashion-mnist-rnn-20261205-120000",
                                                                     "fashion-mnist-rnn-20261205-120000-2"]


def test_a_controller_whose_jvm_is_gone_says_how_to_resume_in_words_that_can_be_pasted(tmp_path: Path,
                                                                                       capsys) -> None:
    import shlex

    from nas_pattern.adapters import Controller

    run_dir = tmp_path / "my runs" / "jvm's search"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "no-tensorboard": True}
    controller = Controller(None, open_search(args_from_json(json.dumps(config))),  # type: ignore[arg-type]
                            closed=lambda search: None, caller_gone=lambda: False)
    controller.abandon()  # no search() under way: closed now
    err = capsys.readouterr().err
    assert err.startswith(f"nas-pattern: the JVM that opened the controller of {run_dir} is gone, so the engine "
                          "closed it, releasing its run directory; resume the search with "), err
    as_json, as_command = err.rstrip("\n").split("resume the search with ")[1].split(" or ")
    assert json.loads(as_json) == {"resume": str(run_dir)}
    assert shlex.split(as_command) == ["python", "-m", "nas_pattern.run", "--resume", str(run_dir)]


def test_a_resume_killed_after_drawing_again_what_timed_out_is_resumed_to_the_same_search(tmp_path: Path) -> None:
    """A resume lets the agent draw again what timed out before it (a longer --child-timeout may cure
    it). Killed before its first policy update, the resume after it must replay its draws as they
    were made: it starts from the checkpoint the first resume wrote, not from the one before it."""
    space = tmp_path / "four.json"  # four architectures: two time out, then every one is drawn
    space.write_text(json.dumps({"max_layers": 1, "decisions": [
        {"name": "filters", "choices": [8, 16]}, {"name": "kernel_size", "choices": [3, 5]},
        {"name": "pool_size", "choices": [2]}, {"name": "dropout_rate", "choices": [0.0]}]}))
    flags = {"space": str(space), "train-limit": 100, "children-per-update": 2, "final-epochs": 0,
             "no-tensorboard": True}

    def run(changes: dict[str, object], stop_after: int | None = None) -> list[tuple[str, str]]:
        search = open_search(args_from_json(json.dumps({**flags, **changes})))
        Recorder(search.run_dir, search.controller)
        if stop_after is not None:  # as a SIGKILL after that child: no checkpoint but the Recorder's own
            search.controller.add_callback(lambda e: e.episode == stop_after and search.controller.stop())
        try:
            search.controller.search()
        except SearchFailed:
            pass
        finally:
            search.close()
        return [(e.architecture.describe(), e.status) for e in search.controller.history]

    first = run({"run-dir": str(tmp_path / "run"), "episodes": 2, "child-timeout": 0.001})
    assert [status for _, status in first] == ["timeout", "timeout"]
    shutil.copytree(tmp_path / "run", tmp_path / "killed")
    whole = run({"resume": str(tmp_path / "run"), "episodes": 6, "child-timeout": 600})
    assert len(set(whole[2:])) == 4 and {a for a, _ in first} < {a for a, s in whole[2:] if s == "ok"}
    assert run({"resume": str(tmp_path / "killed"), "episodes": 6, "child-timeout": 600}, stop_after=3) == whole[:3]
    assert run({"resume": str(tmp_path / "killed"), "episodes": 6}) == whole


def test_a_jvm_search_whose_children_all_timed_out_says_which_new_controller_may_train_them(tmp_path: Path) -> None:
    """The JVM's line ends as the command line's does, with a new controller's config for the resume."""
    from nas_pattern.adapters import Controller

    class Bridge:  # what the adapter asks of the py4j bridge here: values pass as they are
        def episode(self, episode):
            return episode

        def java_exception(self, error: BaseException) -> Exception:
            return RuntimeError(str(error))  # the NASException's line

    class Listener:
        def onEpisode(self, episode) -> None:
            pass

        def shouldStop(self) -> bool:
            return False

    run_dir = tmp_path / "run"
    config = {"run-dir": str(run_dir), "network": "rnn", "train-limit": 100, "children-per-update": 2,
              "child-timeout": 0.0001, "no-tensorboard": True}
    controller = Controller(Bridge(), open_search(args_from_json(json.dumps(config))),  # type: ignore[arg-type]
                            closed=lambda search: None, caller_gone=lambda: False)
    with pytest.raises(RuntimeError) as error:
        controller.search(2, Listener())
    hint = f'a new controller with {{"resume": "{run_dir}", "child-timeout": SECONDS}}'
    assert str(error.value) == ("none of the 2 children produced metrics (timeout); the last said: ChildTimeout: "
                                f"took longer than --child-timeout 0.0001 s; 2 children are recorded in {run_dir}, "
                                f"and a resume may draw again those that timed out: {hint}")
    controller.close()
    timed_out = {e.architecture for e in controller.controller.history}
    resumed = open_search(args_from_json(hint.removeprefix("a new controller with ").replace("SECONDS", "60")))
    assert resumed.config.search.child_timeout == 60 and not resumed.controller.agent.drawn & timed_out
    resumed.close()

"""TensorBoard: a search's event files, read back the way TensorBoard reads them."""

from __future__ import annotations

import errno
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from helpers import SMALL_CNN, blank_dataset, chromium, make_match_target, page_text, tensorboard
from nas_pattern import (
    CNN_SPACE,
    AgentConfig,
    EvolutionAgent,
    NASController,
    RandomAgent,
    RLAgent,
    SearchConfig,
    SearchSpace,
)
from nas_pattern.board import (
    EVENTS,
    PICTURE_SECONDS,
    SESSIONS,
    TensorBoardLog,
    TrainingLog,
    decisions,
    every_picture,
    kl_divergence,
)
from nas_pattern.run import main as run_main

TARGET = CNN_SPACE.decode([3, 2, 1, 1, 2, 1, 0, 2])
PER_CHILD = ("child/accuracy", "child/reward", "child/params", "child/train_seconds", "search/best_accuracy")


def read(directory: Path) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    events.Reload()
    return events


def steps(events: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in events.Scalars(tag)]


def search(directory: Path, agent=None, episodes: int = 12, warn=None,
           clock: Callable[[], float] | None = None) -> tuple[NASController, list[str]]:
    """A fast search (synthetic children) with its event files in `directory`; the warnings it gave.
    Its pictures are all drawn (`every_picture`), unless `clock` says otherwise."""
    agent = agent or RLAgent(CNN_SPACE, AgentConfig(seed=3))
    controller = NASController(agent, blank_dataset(), network=make_match_target(CNN_SPACE, TARGET),
                               config=SearchConfig(episodes=episodes, stop_entropy=0.0))
    warnings: list[str] = []
    board = TensorBoardLog(directory, controller, warn=warn or warnings.append, clock=clock or every_picture())
    controller.search()
    board.close()
    return controller, warnings


def test_every_child_and_every_update_is_in_the_event_files(tmp_path: Path) -> None:
    controller, warnings = search(tmp_path / "tb")
    assert warnings == []
    events = read(tmp_path / "tb")
    children = [e.episode for e in controller.history]
    assert children == list(range(1, 13))
    for tag in PER_CHILD:
        assert steps(events, tag) == children, tag  # one point per child, at its episode number
    assert steps(events, "child/baseline") == children[1:]  # the first reward starts the baseline
    accuracy = {e.step: e.value for e in events.Scalars("child/accuracy")}
    assert accuracy == pytest.approx({e.episode: e.accuracy for e in controller.history})
    best = [e.value for e in events.Scalars("search/best_accuracy")]
    assert best == sorted(best) and best[-1] == pytest.approx(max(accuracy.values()))
    updates = [e.episode for e in controller.history if e.update]
    assert updates == [4, 8, 12]
    for tag in ("policy/loss", "policy/entropy", "policy/moved"):
        assert steps(events, tag) == updates, tag
    assert all(e.value > 0 for e in events.Scalars("policy/moved"))  # each update moved the policy
    images = events.Images("policy/choices")
    assert [i.step for i in images] == [0, *updates]  # the policy at the start, then after each update
    assert all(i.encoded_image_string.startswith(b"\x89PNG") and i.width > 200 for i in images)
    assert [i.step for i in events.Images("best/architecture")] == steps_of_a_new_best(controller)
    assert "best/summary/text_summary" in events.Tags()["tensors"]


def test_a_picture_that_comes_too_soon_waits_and_the_latest_waiting_is_drawn_at_its_own_step(tmp_path: Path) -> None:
    """Children 0.15 PICTURE_SECONDS apart (P, on the clock the log reads): the policy at the start
    is drawn; the update after child 4 (0.6 P) waits until child 7 (1.05 P), then is drawn at step
    4; the update after 8 waits and is replaced by the one after 12, which the end of the search
    draws. The best graph likewise: new bests at children 1, 2, 3, 8 and 12; 1 is drawn at once, 2
    waits and 3 replaces it, 8 replaces 3 and is drawn (1.2 P), and 12 waits until the end."""
    now = [0.0]
    agent = RLAgent(CNN_SPACE, AgentConfig(seed=10))
    controller = NASController(agent, blank_dataset(), network=make_match_target(CNN_SPACE, TARGET),
                               config=SearchConfig(episodes=12, stop_entropy=0.0))
    controller.add_callback(lambda e: now.__setitem__(0, 0.15 * PICTURE_SECONDS * e.episode))  # before the log's
    board = TensorBoardLog(tmp_path / "tb", controller, clock=lambda: now[0])
    controller.search()
    board.close()
    events = read(tmp_path / "tb")
    pictures = {i.step: i for i in events.Images("policy/choices")}
    assert sorted(pictures) == [0, 4, 12]
    assert len({i.encoded_image_string for i in pictures.values()}) == 3  # three different policies
    assert steps(events, "policy/moved") == [4, 8, 12]  # the scalars are all there
    assert steps_of_a_new_best(controller) == [1, 2, 3, 8, 12]
    assert [i.step for i in events.Images("best/architecture")] == [1, 8, 12]


def steps_of_a_new_best(controller: NASController) -> list[int]:
    best, out = -1.0, []
    for e in controller.history:
        if e.accuracy > best:
            best, out = e.accuracy, [*out, e.episode]
    return out


def test_each_child_is_one_hparams_session_with_its_decisions(tmp_path: Path) -> None:
    controller, _ = search(tmp_path / "tb", episodes=8)
    sessions = sorted((tmp_path / "tb" / SESSIONS).iterdir())
    assert [s.name for s in sessions] == [f"{n:05d}" for n in range(1, 9)]
    for session, episode in zip(sessions, controller.history, strict=True):
        events = read(session)
        content = events.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = {name: value.ListFields()[0][1] for name, value in start.session_start_info.hparams.items()}
        assert hparams == decisions(CNN_SPACE, episode.architecture)
        assert set(hparams) == set(CNN_SPACE.step_names)
        assert [e.value for e in events.Scalars("hparams/accuracy")] == pytest.approx([episode.accuracy])
        assert [e.value for e in events.Scalars("hparams/reward")] == pytest.approx([episode.reward])


def test_a_shallower_child_has_none_for_the_layers_it_lacks() -> None:
    space = SearchSpace(CNN_SPACE.decisions, max_layers=3, min_layers=1, layer_format=CNN_SPACE.layer_format)
    shallow = space.decode([0] + [1] * (len(space.num_choices) - 1))  # depth 1
    values = decisions(space, shallow)
    assert values["depth"] == 1 and values["l1_kernel_size"] == space.decisions[1].choices[1]
    assert values["l2_filters"] == "none" and values["l3_dropout_rate"] == "none"


def test_an_agent_without_a_policy_to_show_writes_everything_else(tmp_path: Path) -> None:
    _, warnings = search(tmp_path / "tb", agent=EvolutionAgent(CNN_SPACE, AgentConfig(seed=1)), episodes=8)
    events = read(tmp_path / "tb")
    assert warnings == [] and steps(events, "child/accuracy") == list(range(1, 9))
    assert "policy/choices" not in events.Tags()["images"] and steps(events, "policy/entropy") == [4, 8]


def test_the_kl_between_policies_is_zero_when_nothing_moved_and_positive_otherwise() -> None:
    policy = [[0.5, 0.5], [0.2, 0.3, 0.5]]
    assert kl_divergence(policy, policy) == 0.0
    moved = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)  # KL(after || before), first decision only
    assert kl_divergence(policy, [[0.9, 0.1], [0.2, 0.3, 0.5]]) == pytest.approx(moved) and moved > 0


def test_an_unwritable_directory_is_one_warning_and_the_search_goes_on(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    controller, warnings = search(blocked / "tb")
    assert len(controller.history) == 12  # the search ran to its budget
    assert len(warnings) == 1 and "TensorBoard event files cannot be written" in warnings[0]
    assert "the search goes on without them" in warnings[0]


def test_a_full_disk_is_one_warning_and_the_search_goes_on(tmp_path: Path, monkeypatch) -> None:
    from torch.utils.tensorboard import SummaryWriter

    written = []

    def add_scalar(self, tag, value, step=None, *args, **kwargs) -> None:
        if len(written) == 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append((tag, step))

    monkeypatch.setattr(SummaryWriter, "add_scalar", add_scalar)
    controller, warnings = search(tmp_path / "tb")
    assert len(controller.history) == 12
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert len(written) == 20  # nothing was tried after the failure


def test_a_full_disk_in_tensorboard_s_writer_thread_is_one_warning_and_no_traceback(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    """TensorBoard writes its event files from a thread of its own, where a real full disk fails: Python
    printed that thread's traceback among the search's lines, and then the warning."""
    from tensorboard.summary.writer.record_writer import RecordWriter

    original, writes = RecordWriter.write, []

    def write(self, data: bytes) -> None:
        writes.append(len(data))
        if len(writes) > 30:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, data)

    printed: list[threading.ExceptHookArgs] = []  # what Python would print: an uncaught error in a thread
    monkeypatch.setattr(RecordWriter, "write", write)
    monkeypatch.setattr(threading, "excepthook", printed.append)
    controller, warnings = search(tmp_path / "tb")
    assert len(controller.history) == 12
    assert len(writes) > 30 and printed == []
    assert len(warnings) == 1 and "(OSError: [Errno 28] No space left on device)" in warnings[0]


@pytest.mark.slow
def test_the_cli_writes_the_event_files_and_policy_png_and_no_tensorboard_turns_them_off(tmp_path: Path,
                                                                                          capsys) -> None:
    common = ["--episodes", "4", "--children-per-update", "2", "--train-limit", "200"]
    assert run_main([*common, "--run-dir", str(tmp_path / "on")]) == 0
    events = read(tmp_path / "on" / EVENTS)
    assert steps(events, "child/accuracy") == [1, 2, 3, 4] and steps(events, "policy/loss") == [2, 4]
    assert (tmp_path / "on" / "policy.png").stat().st_size > 10_000
    assert run_main([*common, "--no-tensorboard", "--run-dir", str(tmp_path / "off")]) == 0
    assert not (tmp_path / "off" / EVENTS).exists() and (tmp_path / "off" / "summary.json").exists()
    stored = json.loads((tmp_path / "off" / "config.json").read_text())["config"]
    assert stored["tensorboard"] is False


@pytest.mark.slow
def test_a_search_killed_and_resumed_writes_each_step_once(tmp_path: Path) -> None:
    from test_resume import run, start_and_stop

    search_flags = ["--space", SMALL_CNN, "--episodes", "8", "--children-per-update", "2", "--train-limit", "200",
                    "--seed", "2"]
    run_dir = tmp_path / "run"
    start_and_stop(run_dir, after=5, delay=0.05, how=signal.SIGKILL, search=search_flags)
    recorded = (run_dir / "episodes.jsonl").read_text().count("\n")
    assert 5 <= recorded < 8
    done = run("--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    events = read(run_dir / EVENTS)
    for tag in PER_CHILD:
        assert steps(events, tag) == list(range(1, 9)), tag  # no step twice, none missing
    assert steps(events, "policy/loss") == steps(events, "policy/moved") == [2, 4, 6, 8]
    assert sorted(s.name for s in (run_dir / EVENTS / SESSIONS).iterdir()) == [f"{n:05d}" for n in range(1, 9)]
    final = {json.loads(line)["episode"]: json.loads(line)["metrics"]["accuracy"]
             for line in (run_dir / "episodes.jsonl").read_text().splitlines()}
    assert {e.step: e.value for e in events.Scalars("child/accuracy")} == pytest.approx(final)


def shows(browser, url: str, expected: list[str], timeout: float = 90.0) -> list[str]:
    """Open `url` afresh and wait until its text holds every expected string; those still missing."""
    browser.get("about:blank")
    browser.get(url)
    deadline = time.monotonic() + timeout
    while True:
        text = page_text(browser)
        missing = [item for item in expected if item not in text]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1)


@pytest.mark.slow
def test_a_live_tensorboard_shows_two_searches_their_scalars_sessions_and_policy(tmp_path: Path) -> None:
    """REINFORCE and random search, same seed, in one --logdir: TensorBoard's own server and its
    web app, in headless Chromium, list both runs, the scalars, an hparams session per child with
    its decisions, and the policy pictures."""
    logdir = tmp_path / "runs"
    search(logdir / "reinforce" / EVENTS, RLAgent(CNN_SPACE, AgentConfig(seed=3)))
    search(logdir / "random" / EVENTS, RandomAgent(CNN_SPACE, AgentConfig(seed=3)))
    runs = [f"{name}/{EVENTS}" for name in ("reinforce", "random")]
    with tensorboard(logdir) as url, chromium("1400,1000") as browser:
        scalars = [*runs, "child/accuracy", "child/reward", "search/best_accuracy", "policy/loss", "policy/moved"]
        everything = "&tagFilter=child%7Csearch%7Cpolicy"  # one list of every tag, not the first group open
        assert shows(browser, f"{url}/#scalars{everything}", scalars) == []
        sessions = [f"{run}/{SESSIONS}/{n:05d}" for run in runs for n in (1, 12)]
        assert shows(browser, f"{url}/#hparams", [*sessions, *CNN_SPACE.step_names, "hparams/accuracy"]) == []
        assert shows(browser, f"{url}/#images", [*runs, "policy/choices", "best/architecture"]) == []


@pytest.mark.slow
def test_without_the_package_a_search_works_and_says_once_how_to_get_the_view(tmp_path: Path, monkeypatch,
                                                                               capsys) -> None:
    from nas_pattern import board

    monkeypatch.setattr(board, "available", lambda: False)
    run_dir = tmp_path / "run"
    assert run_main(["--episodes", "2", "--children-per-update", "2", "--train-limit", "200",
                     "--run-dir", str(run_dir)]) == 0
    said = capsys.readouterr()
    lines = [line for line in (said.out + said.err).splitlines() if "tensorboard" in line]
    assert len(lines) == 1 and "pip install tensorboard" in lines[0], lines
    assert not (run_dir / EVENTS).exists() and (run_dir / "summary.json").exists()


def test_the_policy_picture_redrawn_in_place_is_the_figure_drawn_anew() -> None:
    import numpy as np
    from torch.utils.tensorboard._utils import figure_to_image

    from nas_pattern import plots

    agent = RLAgent(CNN_SPACE, AgentConfig(seed=0))
    start = agent.choice_probabilities()
    picture = plots.PolicyPicture(CNN_SPACE, start)
    later = [[1.0 if c == 0 else 0.0 for c in range(len(p))] for p in start]  # a policy that has converged
    pixels = picture.pixels(later, "the policy after episode 12")
    fresh = figure_to_image(plots.policy_figure(CNN_SPACE, later, "the policy after episode 12"))
    fresh = np.transpose(fresh, (1, 2, 0))[..., :3]
    assert pixels.shape == fresh.shape
    assert (pixels != fresh).any(axis=2).mean() < 0.02  # the same picture, but for anti-aliased edges
    assert (pixels != picture.pixels(start, "the policy at the start")).any(axis=2).mean() > 0.05
    picture.close()


def test_a_resume_s_event_file_is_read_after_the_ones_before_it_even_in_the_same_second(tmp_path: Path) -> None:
    """TensorBoard reads a folder's event files in the order of their names, which end in the
    second, the host, the pid and a count in the process: a resume in the same second whose count
    went from 9 to 10 sorted first, and the learning curve read 2, 3, 1 (seen in CI, in a test of
    python -m nas_pattern.train --resume)."""
    first = TrainingLog(tmp_path)
    first.epoch(1, 0.5, 0.8)
    first.close()
    (written,) = tmp_path.glob("events.out.tfevents.*")
    second, host, pid = written.name.split(".")[3:6]
    later = tmp_path / f"events.out.tfevents.{int(second) + 1:010d}.{host}.{pid}.99999"  # its second not over yet
    written.rename(later)
    resumed = TrainingLog(tmp_path, first_epoch=2)
    resumed.epoch(2, 0.4, 0.85)
    resumed.epoch(3, 0.3, 0.9)
    resumed.close()
    assert sorted(tmp_path.glob("events.out.tfevents.*"))[0] == later  # the resume's comes after it
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]

"""run_dir: the record of a search on disk: appended and fsynced, repaired only at its torn tail,
never mixed with another search."""

from __future__ import annotations

import errno
import fcntl
import math
from pathlib import Path

import pytest

from helpers import WouldRunCode
from nas_pattern import CNN_SPACE, Metrics
from nas_pattern.records import Episode
from nas_pattern.run_dir import EPISODES, SUMMARY, RunDirectory


def episode(number: int) -> Episode:
    architecture = CNN_SPACE.decode([number % n for n in CNN_SPACE.num_choices])
    return Episode(number, architecture, Metrics(0.5 + number / 100, 1.0, 1000, 0.1), reward=0.1,
                   baseline=math.nan if number == 1 else 0.5, cached=False, seconds=0.2)


def recorded(tmp_path: Path, count: int) -> RunDirectory:
    run_dir = RunDirectory(tmp_path / "run")
    run_dir.create({"config": {}, "space": CNN_SPACE.to_json()})
    for number in range(1, count + 1):
        run_dir.record(episode(number))
    return run_dir


def test_what_is_recorded_reads_back(tmp_path: Path) -> None:
    run_dir = recorded(tmp_path, 3)
    episodes, warning = run_dir.read_episodes(CNN_SPACE)
    assert warning is None
    assert [e.to_json() for e in episodes] == [episode(n).to_json() for n in (1, 2, 3)]
    assert run_dir.started and run_dir.finished_budget() is None


def test_a_finished_search_is_known_by_the_budget_its_summary_was_written_for(tmp_path: Path) -> None:
    run_dir = recorded(tmp_path, 3)
    run_dir.write_summary({"episodes": 3, "config": {"search": {"episodes": 3}}})
    assert run_dir.finished_budget() == 3
    run_dir.write_summary({"episodes": 3, "stop_reason": "time", "config": {"search": {"episodes": 8}}})
    assert run_dir.finished_budget() == 3  # at its time limit: finished with what it recorded, not its budget
    (run_dir.path / SUMMARY).write_text('{"episodes": 3}')
    with pytest.raises(ValueError, match=r"summary\.json is unreadable .*; the run directory is damaged"):
        run_dir.finished_budget()


def test_repairing_the_tail_never_rewrites_the_complete_lines(tmp_path: Path) -> None:
    run_dir = recorded(tmp_path, 3)
    path = run_dir.path / EPISODES
    whole = path.read_bytes()
    path.write_bytes(whole[:-1])  # the last record is complete, only its newline was lost
    episodes, warning = run_dir.read_episodes(CNN_SPACE)
    assert len(episodes) == 3 and warning is None and path.read_bytes() == whole
    path.write_bytes(whole + b'{"episode": 4, "archi')  # the last record is torn
    assert len(run_dir.peek_episodes(CNN_SPACE)) == 3 and path.read_bytes().endswith(b"archi")  # peek: read only
    episodes, warning = run_dir.read_episodes(CNN_SPACE)
    assert len(episodes) == 3 and warning is not None and "half-written last line" in warning
    assert path.read_bytes() == whole  # cut at the tear, nothing before it touched


def test_damage_before_the_last_line_is_refused_not_guessed_at(tmp_path: Path) -> None:
    run_dir = recorded(tmp_path, 3)
    path = run_dir.path / EPISODES
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b"garbage", *lines[2:]]))
    with pytest.raises(ValueError, match="line 2 is not an episode record"):
        run_dir.read_episodes(CNN_SPACE)
    path.write_bytes(b"\n".join([lines[1], lines[0], lines[2], b""]))
    with pytest.raises(ValueError, match="line 1 records episode 2; the run directory is damaged"):
        run_dir.read_episodes(CNN_SPACE)


@pytest.mark.parametrize(("edit", "why"), [
    ({"status": "weird"}, "status must be ok or one of invalid, error, oom, nan, timeout, got 'weird'"),
    ({"metrics": None}, "a child of status ok without metrics"),
    ({"status": "timeout"}, "a child of status timeout with metrics"),
    ({"metrics": {"accuracy": 7.5, "loss": 1.0, "params": 1000, "train_seconds": 0.1}},
     "accuracy must be a fraction in [0, 1], got 7.5"),
    ({"cached": "false"}, "cached true or false, got 'standalone' and 'false'"),
    ({"evaluation": "guessed"}, "evaluation must be standalone or shared"),
])
def test_a_line_a_search_never_writes_is_refused_not_taken_for_an_outcome(edit: dict, why: str,
                                                                          tmp_path: Path) -> None:
    import json

    run_dir = recorded(tmp_path, 3)
    path = run_dir.path / EPISODES
    lines = path.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), **edit})  # a hand edit, or a flipped byte that parses
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="line 2 is not an episode record") as refused:
        run_dir.read_episodes(CNN_SPACE)
    assert why in str(refused.value) and "the run directory is damaged" in str(refused.value)


def test_a_directory_that_holds_a_search_is_never_reused(tmp_path: Path) -> None:
    run_dir = recorded(tmp_path, 1)
    with pytest.raises(ValueError, match="already holds a search"):
        RunDirectory(run_dir.path).check()
    empty = RunDirectory(tmp_path / "refused")
    empty.create({"config": {}, "space": {}})  # a search that recorded nothing may be started again
    empty.create({"config": {"again": True}, "space": {}})
    assert empty.read_config("resume")["config"] == {"again": True}
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        RunDirectory(tmp_path / "file").check()


def test_a_folder_of_someone_else_s_files_is_not_taken_by_a_new_search(tmp_path: Path) -> None:
    """`--run-dir .` in a project: the search would have written among its files and replaced its
    config.json. Taken: a new or empty folder (but for a config.json.tmp a kill left), or one holding
    a search's config.json and nothing recorded."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"theirs": true}')
    with pytest.raises(ValueError, match=r"holds a config.json that is not a search's \(a new search would "
                                         r"replace it\); a search needs a folder of its own"):
        RunDirectory(project).create({"config": {}, "space": {}})
    assert (project / "config.json").read_text() == '{"theirs": true}'
    (project / "config.json").unlink()
    for name in ("notes.md", "a.txt", "b.txt", "c.txt"):
        (project / name).write_text("mine")
    with pytest.raises(ValueError, match=r"is not empty and holds no search \(a.txt, b.txt, c.txt and 1 more\)"):
        RunDirectory(project).check()
    killed = tmp_path / "killed"  # killed while it wrote its first file
    killed.mkdir()
    (killed / "config.json.tmp").write_text("{")
    first = RunDirectory(killed)
    first.create({"config": {}, "space": {}})
    first.release()  # the search that took it is refused or stopped before its first child
    assert RunDirectory(killed).read_config("resume") == {"config": {}, "space": {}}
    (killed / "notes.md").write_text("mine")  # beside a search that recorded nothing: it may start again
    RunDirectory(killed).create({"config": {"again": True}, "space": {}})
    assert (killed / "notes.md").read_text() == "mine"


def test_a_directory_the_system_will_not_create_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"^run directory /proc/nas-pattern-run cannot be created: No such file"):
        RunDirectory(Path("/proc/nas-pattern-run")).create({"config": {}, "space": {}})  # /proc takes no folders


def test_leftovers_of_a_checkpoint_write_cut_short_are_removed(tmp_path: Path) -> None:
    run_dir = recorded(tmp_path, 2)
    run_dir.save_checkpoint({"episodes": 2})
    (run_dir.path / "checkpoint.pt.tmp").write_bytes(b"half")
    assert run_dir.read_checkpoint() == {"episodes": 2}
    assert not (run_dir.path / "checkpoint.pt.tmp").exists()


def test_a_checkpoint_or_final_training_that_would_run_code_is_refused_and_none_runs(tmp_path: Path) -> None:
    # a run directory from elsewhere: --resume reads it weights-only, as a model is read
    run_dir, marker = recorded(tmp_path, 2), tmp_path / "ran"
    run_dir.save_checkpoint({"episodes": 2, "agent": WouldRunCode(marker)})
    refusal = r"torch.load finds more in it than tensors and plain values \(Unsupported global: GLOBAL io.open [^\n]*\)"
    with pytest.raises(ValueError, match=rf"checkpoint.pt is unreadable \({refusal}\); the run directory is damaged$"):
        run_dir.read_checkpoint()
    run_dir.save_final_training({"episode": 1}, {"module": WouldRunCode(marker)})
    with pytest.raises(ValueError, match=rf"final-training.pt is unreadable \({refusal}\)$"):
        run_dir.read_final_training()
    assert not marker.exists()


def test_a_directory_is_held_by_one_search_until_it_lets_go(tmp_path: Path, monkeypatch) -> None:
    first, second = RunDirectory(tmp_path), RunDirectory(tmp_path)
    first.hold()
    with pytest.raises(ValueError, match="is held by another search that is still open"):
        second.hold()
    first.release()
    second.hold()
    second.release()

    def no_locks(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # a file system without locks: unguarded, not refused
    first.hold()
    second.hold()


def test_a_fresh_folder_taken_back_takes_the_parents_it_made_and_no_other(tmp_path: Path) -> None:
    from nas_pattern.files import fresh_directory, outermost_missing, remove_made

    base = tmp_path / "runs" / "search"
    made = outermost_missing(base)
    assert made == tmp_path / "runs"
    remove_made(fresh_directory(base), made)
    assert list(tmp_path.iterdir()) == []  # runs/ was made for it: gone too
    fresh_directory(base)  # another run's, there before: this one gets search-2
    made = outermost_missing(base)
    assert made is None
    remove_made(fresh_directory(base), made)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["search"]  # runs/ and the other's stay
    (tmp_path / "runs" / "search").rmdir()
    other = tmp_path / "runs" / "other"
    made = outermost_missing(other)  # runs/ exists, empty: only the folder itself was made
    remove_made(fresh_directory(other), made)
    assert (tmp_path / "runs").is_dir() and list((tmp_path / "runs").iterdir()) == []
    kept = fresh_directory(tmp_path / "a" / "b")
    (kept / "best.pt").write_text("")  # something written: nothing is removed
    remove_made(kept, tmp_path / "a")
    assert (kept / "best.pt").exists()

"""records: what a search records, and the one rule for which episode is the best."""

from __future__ import annotations

import math
from dataclasses import replace

from nas_pattern import CNN_SPACE, Metrics
from nas_pattern.agents.config import Objective
from nas_pattern.records import Best, Episode, SearchResult, first_line

A, B, C = (CNN_SPACE.decode([min(i, n - 1) for n in CNN_SPACE.num_choices]) for i in range(3))


def episode(number: int, accuracy: float | None, params: int = 1000, status: str = "ok") -> Episode:
    metrics = None if accuracy is None else Metrics(accuracy=accuracy, loss=1.0, params=params, train_seconds=0.1)
    return Episode(number, (A, B, C)[number % 3], metrics, reward=0.0, baseline=math.nan, cached=False,
                   seconds=0.2, status=status, reason="" if status == "ok" else "boom")


def test_the_best_is_the_highest_objective_and_of_equals_the_earliest() -> None:
    episodes = [episode(1, 0.5), episode(2, 0.7), episode(3, 0.7), episode(4, None, status="error")]
    best = Best(Objective(), episodes)
    assert best.episode is episodes[1] and best.score == 0.7
    assert not best.offer(episode(5, 0.7)) and best.offer(episode(6, 0.71))


def test_the_size_aware_objective_can_prefer_a_less_accurate_smaller_child() -> None:
    big, small = episode(1, 0.80, params=1_000_000), episode(2, 0.79, params=10_000)
    assert Best(Objective(), [big, small]).episode is big
    assert Best(Objective("accuracy-size", target_params=10_000), [big, small]).episode is small


def test_failed_children_are_never_the_best() -> None:
    assert Best(Objective(), [episode(1, None, status="timeout"), episode(2, None, status="invalid")]).episode is None


def test_an_episode_reads_back_as_it_was_written() -> None:
    for written in (episode(1, 0.5), replace(episode(2, None, status="nan"), update={"entropy": 0.5}),
                    replace(episode(3, 0.25), baseline=0.125, cached=True)):
        read = Episode.from_json(written.to_json(), CNN_SPACE)
        assert read.to_json() == written.to_json()
        assert math.isnan(read.baseline) == math.isnan(written.baseline)


def test_a_result_counts_every_episode_once() -> None:
    episodes = [episode(1, 0.5), replace(episode(2, 0.5), cached=True), episode(3, None, status="oom")]
    result = SearchResult(best=episodes[0], episodes=episodes, stop_reason="budget", seconds=1.0, recorded_before=0)
    assert result.counts == {"episodes": 3, "trained": 1, "cached": 1, "invalid": 0, "error": 0, "oom": 1,
                             "nan": 0, "timeout": 0}


def test_first_line_is_what_a_one_line_message_shows_of_an_error() -> None:
    assert first_line(RuntimeError("\n  out of memory\nTraceback ...")) == "out of memory"
    assert first_line(RuntimeError()) == ""

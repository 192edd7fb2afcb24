"""replay: a stopped search continues from its record: the agent and the generators back to the
checkpoint, the episodes after it replayed, never retrained."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from helpers import plain_values
from nas_pattern import CNN_SPACE, Metrics, RandomAgent
from nas_pattern.model import NUMPY_ARRAY
from nas_pattern.records import Child, Episode
from nas_pattern.replay import Replay, generators_state
from nas_pattern.run_dir import RunDirectory


def recorded(architectures: list) -> list[Episode]:
    return [Episode(n, a, Metrics(0.5, 1.0, 10, 0.1), reward=0.5, baseline=math.nan, cached=False, seconds=0.1)
            for n, a in enumerate(architectures, start=1)]


def test_a_resume_returns_the_agent_and_the_generators_to_the_checkpoint() -> None:
    agent = RandomAgent(CNN_SPACE)
    torch.manual_seed(7)
    random.seed(7)
    checkpoint = {"episodes": 2, "agent": agent.state_dict(), "rng": generators_state()}
    expected = [agent.policy().architecture for _ in range(4)]
    draws = (torch.rand(1).item(), random.random())
    fresh = RandomAgent(CNN_SPACE)
    replay = Replay(recorded(expected), checkpoint)
    assert [e.episode for e in replay.restore(fresh)] == [1, 2]  # taken as they are
    assert [fresh.policy().architecture for _ in range(4)] == expected  # sampled again, the same
    assert (torch.rand(1).item(), random.random()) == draws


def test_a_child_sampled_again_must_be_the_one_recorded() -> None:
    record = recorded([CNN_SPACE.decode([0] * len(CNN_SPACE.num_choices))])
    other = CNN_SPACE.decode([1] * len(CNN_SPACE.num_choices))
    assert Replay(record, None).episode_of(Child(1, record[0].architecture)) is record[0]
    with pytest.raises(ValueError, match=r"cannot replay episode 1: the agent sampled .* the record has"):
        Replay(record, None).episode_of(Child(1, other))


def test_a_checkpoint_past_the_record_is_refused() -> None:
    with pytest.raises(ValueError, match="the checkpoint is at episode 3 but only 1 episodes are recorded"):
        Replay(recorded([CNN_SPACE.decode([0] * len(CNN_SPACE.num_choices))]), {"episodes": 3})


def test_the_generators_are_kept_as_plain_values_and_numpy_s_array_of_an_older_checkpoint_is_read(tmp_path) -> None:
    assert plain_values(generators_state())  # a resume reads the checkpoint weights-only
    np.random.seed(5)
    old = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    assert isinstance(old["numpy"][1], np.ndarray)  # as checkpoints before 2026-12-08 held it
    expected = np.random.rand(3)
    run_dir = RunDirectory(tmp_path / "run")
    run_dir.create({"config": {}, "space": CNN_SPACE.to_json()})
    run_dir.save_checkpoint({"episodes": 0, "agent": RandomAgent(CNN_SPACE).state_dict(), "rng": old})
    np.random.seed(6)
    Replay([], run_dir.read_checkpoint()).restore(RandomAgent(CNN_SPACE))
    assert (np.random.rand(3) == expected).all()
    # allowed for that load, not for the torch.load calls of the process it runs in (a user's own)
    assert not set(NUMPY_ARRAY) & set(torch.serialization.get_safe_globals())

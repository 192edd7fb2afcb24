"""NASController: the loop follows the sequence diagram, caches, skips invalid children, reports."""

from __future__ import annotations

import pytest
import torch

from conftest import MatchTarget, blank_dataset, make_match_target
from nas_pattern import (
    CNN,
    CNN_SPACE,
    AgentConfig,
    Dataset,
    Metrics,
    NASController,
    RandomAgent,
    RLAgent,
    SearchConfig,
    Split,
)

TARGET = CNN_SPACE.decode([3, 2, 1, 1, 2, 1, 0, 2])


def test_one_episode_follows_the_sequence_diagram() -> None:
    calls: list[str] = []
    agent = RLAgent(CNN_SPACE, AgentConfig(children_per_update=2))
    for name in ("policy", "reward", "update_policy"):
        method = getattr(agent, name)
        setattr(agent, name, lambda *a, _m=method, _n=name: (calls.append(_n), _m(*a))[1])

    class Traced(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def build(self) -> None:
            calls.append("build")

        def train(self, data: Split, epochs: int) -> None:
            calls.append("train")

        def evaluate(self, data: Split) -> Metrics:
            calls.append("evaluate")
            return super().evaluate(data)

    NASController(agent, blank_dataset(), network=Traced, config=SearchConfig(episodes=2)).search()
    child = ["policy", "build", "train", "evaluate", "reward"]
    assert calls == [*child, *child, "update_policy"]  # m = 2: one update after the second child


def test_rewards_come_from_validation_and_the_test_split_only_at_the_end() -> None:
    seen: list[tuple[str, int]] = []

    class Recording(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def train(self, data: Split, epochs: int) -> None:
            seen.append(("train", len(data)))

        def evaluate(self, data: Split) -> Metrics:
            seen.append(("evaluate", len(data)))
            return super().evaluate(data)

    def split(n: int) -> Split:
        return Split(torch.zeros(n, 1, 28, 28), torch.zeros(n, dtype=torch.long))

    data = Dataset("sizes", train=split(8), val=split(6), test=split(4), num_classes=10)
    controller = NASController(RandomAgent(CNN_SPACE), data, network=Recording,
                               config=SearchConfig(episodes=3, train_limit=5))
    result = controller.search()
    assert set(seen) == {("train", 5), ("evaluate", 6)}  # train_limit applies; rewards on validation
    seen.clear()
    controller.final_test(result)
    assert seen == [("evaluate", 4)]  # the child trained during the search, on the test split
    seen.clear()
    tested = controller.final_test(result, final_epochs=2)
    assert seen == [("train", 14), ("evaluate", 4)]  # retrained on train + validation
    assert tested.final_epochs == 2 and tested.test is not None


def test_evaluated_architectures_are_not_retrained() -> None:
    network = make_match_target(CNN_SPACE, TARGET)
    agent = RLAgent(CNN_SPACE)
    result = NASController(agent, blank_dataset(), network=network, config=SearchConfig(episodes=400)).search()
    distinct = {e.architecture for e in result.episodes}
    assert network.builds == len(distinct) == result.counts["trained"]
    assert result.counts["cached"] == len(result.episodes) - len(distinct) > 0
    for e in result.episodes:
        if e.cached:
            first = next(f for f in result.episodes if f.architecture == e.architecture)
            assert not first.cached and e.metrics == first.metrics


def test_invalid_architectures_are_recorded_with_a_reason_and_a_penalty() -> None:
    class NoEight(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def validate(self) -> list[str]:
            return ["8 filters are not allowed"] if self.architecture[0]["filters"] == 8 else []

    agent = RLAgent(CNN_SPACE)
    result = NASController(agent, blank_dataset(), network=NoEight, config=SearchConfig(episodes=60)).search()
    invalid = [e for e in result.episodes if e.status == "invalid"]
    assert invalid and result.counts["invalid"] == len([e for e in invalid if not e.cached])
    assert sum(result.counts[k] for k in ("trained", "cached", "invalid")) == len(result.episodes)
    for e in invalid:
        assert e.metrics is None and e.accuracy == 0.0
        assert "8 filters are not allowed" in e.reason and e.architecture.describe() in e.reason
    assert NoEight.builds == result.counts["trained"]  # invalid children were never built
    assert result.best.status == "ok"


def test_a_search_where_nothing_can_be_built_says_so() -> None:
    class Nothing(MatchTarget):
        target, space = TARGET, CNN_SPACE

        def validate(self) -> list[str]:
            return ["never"]

    controller = NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=Nothing,
                               config=SearchConfig(episodes=3))
    with pytest.raises(RuntimeError, match="none of the 3 children could be built"):
        controller.search()


def test_policy_updates_every_m_children_and_callbacks_see_every_episode() -> None:
    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=3)), blank_dataset(),
                               network=make_match_target(CNN_SPACE, TARGET), config=SearchConfig(episodes=10))
    seen: list[int] = []
    controller.add_callback(lambda e: seen.append(e.episode))
    result = controller.search()
    assert seen == list(range(1, 11))
    assert [e.episode for e in result.episodes if e.update] == [3, 6, 9]
    assert controller.agent.updates == 3  # type: ignore[attr-defined]


def test_the_controller_refuses_a_space_its_network_cannot_build() -> None:
    from nas_pattern import RNN_SPACE
    with pytest.raises(ValueError, match="the CNN search space must have exactly the decisions"):
        NASController(RandomAgent(RNN_SPACE), blank_dataset(), network=CNN)


def test_same_seed_same_search_with_real_children(small_fashion: Dataset) -> None:
    def run() -> list[tuple[str, float]]:
        controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2)), small_fashion,
                                   network=CNN, config=SearchConfig(episodes=4, train_limit=300))
        return [(e.architecture.describe(), e.accuracy) for e in controller.search().episodes]

    assert run() == run()

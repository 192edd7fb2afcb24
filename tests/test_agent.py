"""The agents: sampling, rewards, and above all that RLAgent learns where RandomAgent cannot."""

from __future__ import annotations

import pytest

from conftest import blank_dataset, make_match_target
from nas_pattern import CNN_SPACE, AgentConfig, Metrics, NASController, RandomAgent, RLAgent, SearchConfig

TARGET = CNN_SPACE.decode([3, 2, 1, 1, 2, 1, 0, 2])  # conv 5x64 pool2 drop0.25 | conv 3x32 pool1 drop0.5


def search(agent, episodes: int, stop_entropy: float = SearchConfig.stop_entropy):
    """Run the real search loop with a synthetic child whose accuracy is the match with TARGET."""
    controller = NASController(agent, blank_dataset(), network=make_match_target(CNN_SPACE, TARGET),
                               config=SearchConfig(episodes=episodes, stop_entropy=stop_entropy))
    return controller.search()


def metrics(accuracy: float) -> Metrics:
    return Metrics(accuracy=accuracy, loss=0.0, params=0, train_seconds=0.0)


@pytest.mark.parametrize("baseline", ["ema", "critic"], ids=["reinforce", "actor-critic"])
@pytest.mark.parametrize("seed", [0, 1])
def test_rl_agent_learns_the_target_architecture(baseline: str, seed: int) -> None:
    agent = RLAgent(CNN_SPACE, AgentConfig(baseline=baseline, seed=seed))  # type: ignore[arg-type]
    assert agent.probability(TARGET) < 1e-3  # starts close to uniform: 1/5184
    budget = 300 * agent.config.children_per_update  # a few hundred updates at most
    result = search(agent, budget)
    assert agent.probability(TARGET) > 0.9
    assert result.best.architecture == TARGET
    assert result.converged  # the entropy rule stopped it before the budget ran out
    assert len(result.episodes) < budget


@pytest.mark.parametrize("baseline", ["ema", "critic"], ids=["reinforce", "actor-critic"])
def test_rl_agent_beats_random_search_at_the_same_budget(baseline: str) -> None:
    rl = search(RLAgent(CNN_SPACE, AgentConfig(baseline=baseline)), 200, stop_entropy=0.0)  # type: ignore[arg-type]
    rand = search(RandomAgent(CNN_SPACE), 200, stop_entropy=0.0)
    last = slice(-50, None)
    rl_mean = sum(e.accuracy for e in rl.episodes[last]) / 50
    random_mean = sum(e.accuracy for e in rand.episodes[last]) / 50
    assert rl_mean > random_mean + 0.4, (rl_mean, random_mean)  # random hovers near 0.35, RL near 1
    assert rl.best.accuracy == 1.0


def test_exploration_does_not_corrupt_the_gradient() -> None:
    # With epsilon-exploration the samples come from a mixture policy; the importance weights
    # keep the update pointed at the target all the same.
    agent = RLAgent(CNN_SPACE, AgentConfig(epsilon=0.2))
    search(agent, 1200, stop_entropy=0.0)
    assert agent.probability(TARGET) > 0.9


def test_policy_samples_rather_than_argmax() -> None:
    agent = RLAgent(CNN_SPACE)
    drawn = {agent.policy() for _ in range(50)}
    assert len(drawn) > 40  # an untrained, near-uniform policy: argmax would repeat one architecture


def test_same_seed_same_architectures() -> None:
    def draws(seed: int) -> list:
        agent = RLAgent(CNN_SPACE, AgentConfig(seed=seed))
        return [agent.policy() for _ in range(10)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_reward_is_accuracy_minus_the_moving_average_baseline() -> None:
    agent = RLAgent(CNN_SPACE, AgentConfig(baseline_decay=0.5))
    assert agent.value_function() != agent.value_function()  # NaN: no estimate before any reward
    for _ in range(3):
        agent.policy()
    assert agent.reward(metrics(0.6)) == 0.0  # the first reward starts the average
    assert agent.value_function() == pytest.approx(0.6)
    assert agent.reward(metrics(0.8)) == pytest.approx(0.2)
    assert agent.value_function() == pytest.approx(0.7)
    clipped = RLAgent(CNN_SPACE, AgentConfig(reward_clip=0.05))
    clipped.policy()
    clipped.policy()
    clipped.reward(metrics(0.5))
    assert clipped.reward(metrics(0.9)) == pytest.approx(0.05)


def test_update_uses_only_rewarded_samples_and_keeps_the_rest() -> None:
    agent = RLAgent(CNN_SPACE)
    for _ in range(3):
        agent.policy()
    agent.reward(metrics(0.5))
    agent.reward(metrics(0.7))
    stats = agent.update_policy()
    assert 0.0 < stats["entropy"] <= 1.0
    assert len(agent.pending) == 1 and agent.pending[0].accuracy is None
    assert agent.updates == 1


def test_reward_without_a_sample_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="without a sample"):
        RLAgent(CNN_SPACE).reward(metrics(0.5))


def test_random_agent_is_uniform_and_never_learns() -> None:
    agent = RandomAgent(CNN_SPACE)
    assert agent.probability(TARGET) == pytest.approx(1 / CNN_SPACE.size)
    assert agent.update_policy()["entropy"] == 1.0
    assert len({agent.policy() for _ in range(50)}) > 40


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"children_per_update": 0}, "children per update must be >= 1"),
    ({"baseline": "mean"}, "baseline must be ema, critic or none"),
    ({"epsilon": 1.0}, "epsilon must be in \\[0, 1\\)"),
    ({"reward_clip": 0.0}, "reward clip must be positive"),
])
def test_bad_agent_config(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        AgentConfig(**kwargs)

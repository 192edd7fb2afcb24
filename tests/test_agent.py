"""The agents: sampling, rewards, and above all that RLAgent learns where RandomAgent cannot."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import random
import re
from dataclasses import replace

import pytest
import torch

from helpers import WouldRunCode, blank_dataset, make_match_target, plain_values
from nas_pattern import AGENTS as REGISTRY
from nas_pattern import (
    CNN_SPACE,
    Agent,
    AgentConfig,
    Decision,
    EvolutionAgent,
    EvolutionConfig,
    Metrics,
    NASController,
    Network,
    Objective,
    RandomAgent,
    RandomConfig,
    ReinforceConfig,
    RLAgent,
    SearchConfig,
    SearchSpace,
    TPEConfig,
    make_agent,
)

TARGET = CNN_SPACE.decode([3, 2, 1, 1, 2, 1, 0, 2])  # conv 5x64 pool2 drop0.25 | conv 3x32 pool1 drop0.5


def search(agent, episodes: int, stop_entropy: float = SearchConfig.stop_entropy):
    """Run the real search loop with a synthetic child whose accuracy is the match with TARGET."""
    controller = NASController(agent, blank_dataset(), network=make_match_target(CNN_SPACE, TARGET),
                               config=SearchConfig(episodes=episodes, stop_entropy=stop_entropy))
    return controller.search()


def metrics(accuracy: float) -> Metrics:
    return Metrics(accuracy=accuracy, loss=0.0, params=0, train_seconds=0.0)


@pytest.mark.slow
@pytest.mark.parametrize("baseline", ["ema", "critic"], ids=["reinforce", "actor-critic"])
@pytest.mark.parametrize("seed", [0, 1])
def test_rl_agent_learns_the_target_architecture(baseline: str, seed: int) -> None:
    # REINFORCE itself, sampling with replacement, at the step size of the first tuning (0.01; the
    # default 0.03 was chosen for sampling without replacement, where a policy that settles early
    # goes on exploring): the policy concentrates on the target.
    agent = RLAgent(CNN_SPACE, AgentConfig(seed=seed, reinforce=ReinforceConfig(
        baseline=baseline, without_replacement=False, learning_rate=0.01)))
    assert agent.probability(TARGET) < 1e-3  # starts close to uniform: 1/5184
    budget = 300 * agent.config.children_per_update  # a few hundred updates at most
    result = search(agent, budget, stop_entropy=0.05)
    assert agent.probability(TARGET) > 0.9
    assert result.best.architecture == TARGET
    assert result.converged  # the entropy rule stopped it before the budget ran out
    assert len(result.episodes) < budget


@pytest.mark.slow
@pytest.mark.parametrize("baseline", ["ema", "critic"], ids=["reinforce", "actor-critic"])
def test_rl_agent_beats_random_search_at_the_same_budget(baseline: str) -> None:
    rl = search(RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(baseline=baseline))), 200,
                stop_entropy=0.0)
    rand = search(RandomAgent(CNN_SPACE), 200, stop_entropy=0.0)
    last = slice(-50, None)
    rl_mean = sum(e.accuracy for e in rl.episodes[last]) / 50
    random_mean = sum(e.accuracy for e in rand.episodes[last]) / 50
    # random hovers near 0.35; RL, drawing each architecture once, explores the target's neighbours
    assert rl_mean > random_mean + 0.25, (rl_mean, random_mean)
    assert rl.best.accuracy == 1.0
    assert next(i for i, e in enumerate(rl.episodes) if e.accuracy == 1.0) < 100


@pytest.mark.slow
def test_exploration_does_not_corrupt_the_gradient() -> None:
    # With epsilon-exploration the samples come from a mixture policy; the importance weights
    # keep the update pointed at the target all the same.
    agent = RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(epsilon=0.2, without_replacement=False,
                                                                     learning_rate=0.01)))
    search(agent, 1200, stop_entropy=0.0)
    assert agent.probability(TARGET) > 0.9


def test_policy_samples_rather_than_argmax() -> None:
    agent = RLAgent(CNN_SPACE)
    drawn = {agent.policy().architecture for _ in range(50)}
    assert len(drawn) > 40  # an untrained, near-uniform policy: argmax would repeat one architecture


def test_the_agent_draws_each_architecture_once_until_the_space_is_spent() -> None:
    space = SearchSpace((Decision("filters", (8, 16)), Decision("kernel_size", (3, 5))), max_layers=2)  # 16
    agent = RLAgent(space, AgentConfig(reinforce=ReinforceConfig(temperature=0.2)))  # a sharp policy repeats
    drawn = [agent.policy().architecture for _ in range(space.size)]
    assert len(set(drawn)) == space.size
    assert agent.policy().architecture in drawn  # the space is spent: any draw, no endless search for a new one
    repeats = RLAgent(space, AgentConfig(reinforce=ReinforceConfig(temperature=0.2, without_replacement=False)))
    assert len({repeats.policy().architecture for _ in range(space.size)}) < space.size


def test_the_shared_weights_train_on_what_the_children_are_drawn_from() -> None:
    """Weight sharing trains the supernet on agent.draw()'s architectures. Once a sharp policy has
    drawn its favourites, policy() goes on to the others, and draw() follows it there: a 2,000-child
    shared-weight search of the CNN space otherwise went on training the favourites and scored
    598 of its last 700 children on paths never trained (median 0.26, where the 100 before had
    0.87)."""
    space = SearchSpace((Decision("filters", (8, 16)), Decision("kernel_size", (3, 5))), max_layers=2)  # 16
    sharp = AgentConfig(reinforce=ReinforceConfig(temperature=0.2))
    agent, twin = RLAgent(space, sharp), RLAgent(space, sharp)
    children = [agent.policy().architecture for _ in range(12)]
    assert [twin.policy().architecture for _ in range(12)] == children
    assert agent.heat is not None  # the last child took redraws: its plain draw was drawn before
    restored = RLAgent(space, sharp)
    restored.load_state_dict(agent.state_dict())  # which a checkpoint keeps, for the next shared phase
    rng = random.Random(0)
    shared = [agent.draw(rng) for _ in range(40)]
    assert not set(shared) & set(children) and len(set(shared)) == 4  # the 4 the next children come from
    assert agent.drawn == set(children)  # a draw for the supernet is not a child
    rng = random.Random(0)
    assert [restored.draw(rng) for _ in range(40)] == shared
    assert [agent.policy().architecture for _ in range(4)] == [twin.policy().architecture for _ in range(4)]
    assert agent.draw(rng) in children  # the space is spent: any draw
    repeats = RLAgent(space, AgentConfig(reinforce=ReinforceConfig(temperature=0.2, without_replacement=False)))
    picked = {repeats.policy().architecture for _ in range(12)}
    rng = random.Random(0)
    assert {repeats.draw(rng) for _ in range(40)} & picked  # without it, the policy's own draws: its favourites


@pytest.mark.slow
def test_a_converged_policy_goes_on_to_new_architectures_while_budget_remains() -> None:
    # Trained to certainty on TARGET, the agent still proposes a new architecture every time:
    # TARGET's neighbours first (the policy's most probable unseen ones). The search is not ended
    # by the policy's entropy (SearchConfig.stop_entropy is off by default): it spends its budget.
    agent = RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(learning_rate=0.05)))
    result = search(agent, 400)
    assert result.stop_reason == "budget" and len(result.episodes) == 400
    assert result.best.architecture == TARGET
    assert not any(e.cached for e in result.episodes)  # 400 distinct children
    assert result.episodes[-1].update["entropy"] < 0.5  # converged, and still exploring
    late = [e.accuracy for e in result.episodes[-40:]]
    assert sum(late) / len(late) >= 0.5  # near the target (random search's children: 0.36)


def test_the_draws_survive_a_checkpoint() -> None:
    agent = RLAgent(CNN_SPACE, AgentConfig(seed=5))
    first = [agent.policy().architecture for _ in range(6)]
    state = agent.state_dict()
    later = [agent.policy().architecture for _ in range(20)]
    again = RLAgent(CNN_SPACE, AgentConfig(seed=5))
    again.load_state_dict(state)
    assert again.drawn == set(first)
    assert [again.policy().architecture for _ in range(20)] == later


def test_same_seed_same_architectures() -> None:
    def draws(seed: int) -> list:
        agent = RLAgent(CNN_SPACE, AgentConfig(seed=seed))
        return [agent.policy().architecture for _ in range(10)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_reward_is_accuracy_minus_the_moving_average_baseline() -> None:
    agent = RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(baseline_decay=0.5)))
    assert agent.value_function() != agent.value_function()  # NaN: no estimate before any reward
    samples = [agent.policy() for _ in range(3)]
    assert agent.reward(samples[0], metrics(0.6)) == 0.0  # the first reward starts the average
    assert agent.value_function() == pytest.approx(0.6)
    assert agent.reward(samples[1], metrics(0.8)) == pytest.approx(0.2)
    assert agent.value_function() == pytest.approx(0.7)
    clipped = RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(reward_clip=0.05)))
    first, second = clipped.policy(), clipped.policy()
    clipped.reward(first, metrics(0.5))
    assert clipped.reward(second, metrics(0.9)) == pytest.approx(0.05)


def test_update_learns_from_the_rewarded_samples_and_closes_the_others() -> None:
    agent = RLAgent(CNN_SPACE)
    samples = [agent.policy() for _ in range(3)]
    agent.reward(samples[2], metrics(0.5))
    agent.reward(samples[0], metrics(0.7))
    assert [r.actions for r in agent.rewarded] == [list(samples[2].actions), list(samples[0].actions)]
    stats = agent.update_policy()
    assert 0.0 < stats["entropy"] <= 1.0
    assert agent.rewarded == [] and agent.open == {} and agent.updates == 1
    with pytest.raises(ValueError, match=r"sample 2 .*given out before the policy update that followed it"):
        agent.reward(samples[1], metrics(0.6))  # drawn from the policy before the update


def _one_good_sample_then_nothing_new(replay: int) -> tuple[float, float, RLAgent]:
    """An agent rewarded 0.9 for one sample of its first update and 0.5 for the others, then for
    five updates only rewards equal to its baseline (advantage 0: nothing new to learn from).
    Returns how likely it is to draw the good sample after the first update and after the last."""
    agent = RLAgent(CNN_SPACE, AgentConfig(seed=0, reinforce=ReinforceConfig(replay=replay)))
    samples = [agent.policy() for _ in range(4)]
    for k, sample in enumerate(samples):
        agent.reward(sample, metrics(0.9 if k == 0 else 0.5))
    agent.update_policy()
    after_first = agent.probability(samples[0].architecture)
    for _ in range(5):
        for sample in [agent.policy() for _ in range(4)]:
            agent.reward(sample, metrics(agent.value_function()))
        agent.update_policy()
    return after_first, agent.probability(samples[0].architecture), agent


def test_replay_goes_on_learning_from_a_good_sample_after_its_update() -> None:
    # Without replay a sample teaches one update and is dropped; with it, the next updates learn
    # from it again (its advantage against today's baseline), so the policy keeps moving to it.
    first, last, replaying = _one_good_sample_then_nothing_new(replay=32)
    first_alone, last_alone, _ = _one_good_sample_then_nothing_new(replay=0)
    assert first == pytest.approx(first_alone, rel=1e-6)  # the first update has no history: the same step
    assert last > 3 * first  # replayed five more times, the good sample became much likelier
    assert last_alone < 1.5 * first_alone  # without it only Adam's momentum and the entropy bonus moved it
    assert len(replaying.history) == 24  # the samples of the six updates, up to `replay`
    assert RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(replay=8))).settings.replay == 8


def test_replay_keeps_the_latest_samples_and_survives_a_checkpoint() -> None:
    _, _, agent = _one_good_sample_then_nothing_new(replay=10)
    assert len(agent.history) == 10  # the latest 10 of 24
    state = agent.state_dict()
    again = RLAgent(CNN_SPACE, AgentConfig(seed=0, reinforce=ReinforceConfig(replay=10)))
    again.load_state_dict(state)
    assert again.history == agent.history
    for learner in (agent, again):  # the same next update, replay included
        for sample in [learner.policy() for _ in range(4)]:
            learner.reward(sample, metrics(0.7))
        learner.update_policy()
    assert all(torch.equal(a, b) for a, b in zip(agent.policy_network.state_dict().values(),
                                                  again.policy_network.state_dict().values(), strict=True))
    before_replay = {k: v for k, v in state.items() if k != "history"}  # a checkpoint from before replay
    old = RLAgent(CNN_SPACE, AgentConfig(seed=0))
    old.load_state_dict(before_replay)
    assert old.history == []


def test_random_agent_is_uniform_and_never_learns() -> None:
    agent = RandomAgent(CNN_SPACE)
    assert agent.probability(TARGET) == pytest.approx(1 / CNN_SPACE.size)
    assert agent.update_policy()["entropy"] == 1.0
    assert len({agent.policy() for _ in range(50)}) > 40


def test_random_agent_resumes_a_checkpoint_from_before_it_kept_its_mean() -> None:
    agent = RandomAgent(CNN_SPACE)
    for _ in range(3):
        agent.reward(agent.policy(), metrics(0.6))
    state = agent.state_dict()
    old = {key: value for key, value in state.items() if key not in ("total", "count")}
    copy = RandomAgent(CNN_SPACE)
    copy.load_state_dict(old)  # its draws go on as they would have; the mean starts again
    assert math.isnan(copy.value_function()) and agent.value_function() == pytest.approx(0.6)
    assert copy.policy() == agent.policy()
    copy.load_state_dict(state)
    assert copy.value_function() == agent.value_function()


@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    (AgentConfig, {"children_per_update": 0}, "children per update must be >= 1"),
    (ReinforceConfig, {"baseline": "mean"}, "baseline must be ema, critic or none"),
    (ReinforceConfig, {"epsilon": 1.0}, "epsilon must be in \\[0, 1\\)"),
    (ReinforceConfig, {"reward_clip": 0.0}, "reward clip must be positive"),
    (ReinforceConfig, {"temperature": 0.0}, "temperature must be > 0"),
    (ReinforceConfig, {"replay": -1}, "replay must be a whole number of samples >= 0"),
    (ReinforceConfig, {"replay": 2.5}, "replay must be a whole number of samples >= 0"),
    (ReinforceConfig, {"learning_rate": -0.03}, "learning rate must be > 0, got -0.03"),
    (ReinforceConfig, {"learning_rate": float("nan")}, "learning rate must be > 0, got nan"),
    (ReinforceConfig, {"grad_clip": 0.0}, "grad clip must be > 0"),
    (ReinforceConfig, {"entropy_weight": -1e-3}, "entropy weight must be >= 0"),
    (ReinforceConfig, {"critic_weight": -0.5}, "critic weight must be >= 0"),
    (ReinforceConfig, {"hidden_size": 0}, "hidden size must be a whole number >= 1"),
    (EvolutionConfig, {"tournament_size": 30}, "tournament size must be between 1 and the population size"),
])
def test_bad_agent_config(kind, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        kind(**kwargs)


# ---- the contract every agent keeps, so the controller and the study can use any of them ----

SMALL = SearchSpace((Decision("a", (1, 2, 3)), Decision("b", (True, False)), Decision("c", ("x",))), max_layers=2)
SMALL_EVOLUTION = EvolutionConfig(population_size=6, tournament_size=3)  # past its random start in 6 children
# Every agent of the registry, as `--agent NAME` builds it.
AGENTS = {name: (lambda space, seed, _name=name: make_agent(_name, space, AgentConfig(seed=seed,
                                                                                       evolution=SMALL_EVOLUTION)))
          for name in REGISTRY}


def drive(agent, accuracies, count: int) -> list:
    """`count` children the way the controller runs them: policy, reward, an update every m."""
    drawn = []
    for i in range(count):
        sample = agent.policy()
        drawn.append(sample.architecture)
        agent.reward(sample, metrics(accuracies(sample.architecture)))
        if (i + 1) % agent.config.children_per_update == 0:
            stats = agent.update_policy()
            assert 0.0 <= stats["entropy"] <= 1.0
    return drawn


def score(architecture) -> float:
    return 0.1 * SMALL.encode(architecture)[0] + 0.05 * SMALL.encode(architecture)[4]


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_samples_members_of_the_space_reproducibly(name: str) -> None:
    first = drive(AGENTS[name](SMALL, 7), score, 24)
    assert all(SMALL.validate(a) == [] for a in first)
    assert drive(AGENTS[name](SMALL, 7), score, 24) == first
    assert drive(AGENTS[name](SMALL, 8), score, 24) != first


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_takes_any_integer_as_its_seed(name: str) -> None:
    # PyTorch's generators take 64 bits, numpy's (TPE's) 32: a larger or negative --seed failed in one or the other
    for seed in (-1, 2**70):
        assert drive(AGENTS[name](SMALL, seed), score, 8) == drive(AGENTS[name](SMALL, seed), score, 8)


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_continues_exactly_from_its_state(name: str) -> None:
    agent = AGENTS[name](SMALL, 3)
    drive(agent, score, 13)
    waiting = agent.policy()  # one sample still waiting for its reward when the state is taken
    state = agent.state_dict()
    copy = AGENTS[name](SMALL, 99)  # another seed: everything must come from the state
    copy.load_state_dict(state)
    assert copy.reward(waiting, metrics(0.5)) == agent.reward(waiting, metrics(0.5))  # the handle survives
    assert copy.value_function() == agent.value_function()
    assert drive(copy, score, 10) == drive(agent, score, 10)


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_s_value_function_is_an_estimate_of_its_next_score(name: str) -> None:
    # The baseline each progress line, episode and TensorBoard shows: NaN while the agent has no
    # estimate, then one within the scores it has seen (random search showed 0, which no child scored)
    agent = AGENTS[name](SMALL, 4)
    if name == "reinforce-no-baseline":  # plain REINFORCE: the baseline it subtracts is 0, by definition
        assert agent.value_function() == 0.0
        return
    assert math.isnan(agent.value_function())
    drive(agent, lambda a: 0.4 + score(a) / 2, 12)  # scores in [0.4, 0.55]
    if name == "actor-critic":  # the average plus the critic's learned correction, which may lead it outside
        assert math.isfinite(agent.value_function())
    else:
        assert 0.4 <= agent.value_function() <= 0.55, agent.value_function()


def learned(agent) -> list[tuple[tuple[int, ...], float]] | None:
    """What the agent keeps of its rewarded samples, as (choices, score), from its checkpoint; None
    for an agent that learns nothing (random search)."""
    state = agent.state_dict()
    if "population" in state:  # evolution
        return [(tuple(actions), score) for actions, score in state["population"]]
    if "told" in state:  # TPE
        return [(tuple(actions), score) for actions, score in state["told"]]
    if "policy_network" in state:  # REINFORCE: the rewarded samples waiting for the update
        return [(tuple(s["actions"]), s["score"]) for s in state["pending"]]
    return None


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_pairs_rewards_given_out_of_order_with_their_samples(name: str) -> None:
    agent = AGENTS[name](SMALL, 5)
    drive(agent, score, 8)  # past evolution's random start
    samples = [agent.policy() for _ in range(agent.config.children_per_update)]
    assert len({s.number for s in samples}) == len(samples)
    for sample in (samples[2], samples[0], samples[3], samples[1]):
        reward = agent.reward(sample, metrics(score(sample.architecture)))
        if name in ("random", "evolution", "tpe"):  # their reward is the score itself
            assert reward == score(sample.architecture)
    pairs = learned(agent)
    if pairs is not None:
        for sample in samples:
            assert (sample.actions, score(sample.architecture)) in pairs, sample
    assert agent.open == {}
    agent.update_policy()


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_refuses_a_sample_rewarded_twice_never_given_or_from_before_an_update(name: str) -> None:
    agent = AGENTS[name](SMALL, 0)
    first = agent.policy()
    agent.reward(first, metrics(0.5))
    with pytest.raises(ValueError, match=r"cannot reward sample 1 \(.*\): it was rewarded already"):
        agent.reward(first, metrics(0.5))
    stranger = dataclasses.replace(first, number=7)
    with pytest.raises(ValueError, match=r"cannot reward sample 7 .* never gave it out"):
        agent.reward(stranger, metrics(0.5))
    stale = agent.policy()
    agent.update_policy()
    with pytest.raises(ValueError, match=r"sample 2 .*given out before the policy update that followed it"):
        agent.reward(stale, metrics(0.5))
    with pytest.raises(ValueError, match=r"reward\(\) takes the Sample that policy\(\) returned, got Architecture"):
        agent.reward(first.architecture, metrics(0.5))  # type: ignore[arg-type]
    fresh = agent.policy()
    assert fresh.number == 3 and agent.reward(fresh, metrics(0.6)) is not None  # the agent goes on


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_refuses_metrics_no_child_has_and_keeps_the_sample_open(name: str) -> None:
    agent = AGENTS[name](SMALL, 0)
    sample = agent.policy()
    for bad in (metrics(math.nan), metrics(1.5), metrics(-0.1), dataclasses.replace(metrics(0.5), params=-1)):
        with pytest.raises(ValueError, match=rf"^cannot reward sample 1 \(.*\) with accuracy {bad.accuracy} and "
                                             rf"{bad.params} params: .*; the sample stays open$"):
            agent.reward(sample, bad)  # a NaN score would make REINFORCE's baseline, and every advantage, NaN
    agent.reward(sample, metrics(0.5))
    assert agent.value_function() == 0.5 or name != "reinforce"
    assert all(math.isfinite(v) for v in agent.update_policy().values())


@pytest.mark.parametrize("name", [n for n in AGENTS if n != "tpe"])
def test_every_agent_probability_is_a_distribution(name: str) -> None:
    agent = AGENTS[name](SMALL, 1) if name != "evolution" else EvolutionAgent(SMALL, AgentConfig(
        seed=1, evolution=replace(SMALL_EVOLUTION, without_replacement=False)))  # it cannot say without
    drive(agent, score, 12)  # past evolution's random start
    total = sum(agent.probability(a) for a in SMALL)
    assert total == pytest.approx(1.0, abs=1e-5)


def test_tpe_says_it_cannot_give_a_probability() -> None:
    with pytest.raises(NotImplementedError, match="TPEAgent cannot say"):
        AGENTS["tpe"](SMALL, 0).probability(SMALL.decode([0] * 6))


@pytest.mark.parametrize("name", ["evolution", "tpe"])
def test_evolution_and_tpe_beat_random_search_at_the_same_budget(name: str) -> None:
    agent = AGENTS[name](CNN_SPACE, 0)
    if isinstance(agent, EvolutionAgent):
        agent = EvolutionAgent(CNN_SPACE, AgentConfig(evolution=EvolutionConfig(population_size=20, tournament_size=5)))
    smart = search(agent, 200, stop_entropy=0.0)
    rand = search(RandomAgent(CNN_SPACE), 200, stop_entropy=0.0)
    last = slice(-50, None)
    smart_mean = sum(e.accuracy for e in smart.episodes[last]) / 50
    random_mean = sum(e.accuracy for e in rand.episodes[last]) / 50
    assert smart_mean > random_mean + 0.25, (smart_mean, random_mean)
    assert smart.best.accuracy >= rand.best.accuracy


def test_evolution_mutates_the_tournament_winner_in_one_decision() -> None:
    agent = EvolutionAgent(SMALL, AgentConfig(evolution=EvolutionConfig(population_size=4, tournament_size=4,
                                                                        without_replacement=False)))
    drive(agent, score, 4)
    best = max(agent.population, key=lambda member: member[1])[0]
    for _ in range(20):  # the whole population is the tournament: the child is always one step from the best
        child = SMALL.encode(agent.policy().architecture)
        assert sum(a != b for a, b in zip(child, best, strict=True)) == 1
        agent.close()  # never rewarded: the population stays as it is
    assert len(agent.population) == 4  # the oldest died as each new one came


def test_evolution_mutates_into_architectures_not_given_before_then_goes_beyond_them() -> None:
    agent = EvolutionAgent(SMALL, AgentConfig(evolution=EvolutionConfig(population_size=4, tournament_size=4)))
    drive(agent, score, 4)
    best = max(agent.population, key=lambda member: member[1])[0]
    neighbours = {SMALL.decode([*best[:t], c, *best[t + 1:]]) for t in agent.mutable
                  for c in range(SMALL.num_choices[t]) if c != best[t]}
    before = set(agent.drawn)
    new = neighbours - before
    assert len(new) >= 3
    children = []
    for _ in range(len(new)):  # the whole population is the tournament: each child is a new neighbour of the best
        children.append(agent.policy().architecture)
        agent.close()  # never rewarded: the population stays as it is
    assert sorted(map(SMALL.encode, children)) == sorted(map(SMALL.encode, new))
    for _ in range(5):  # every neighbour given: a uniform draw among the architectures never given
        child = agent.policy().architecture
        agent.close()
        assert child not in neighbours | before | set(children)
        children.append(child)
    assert len(agent.population) == 4


# ---- skip connections and variable depth; the size-aware reward ----

DEEP = SearchSpace((Decision("a", (1, 2)),), max_layers=3, min_layers=1, skip_connections=True)


@pytest.mark.parametrize("name", ["reinforce", "random"])
def test_probability_is_a_distribution_over_a_skip_and_depth_space(name: str) -> None:
    agent = AGENTS[name](DEEP, 1)
    drive(agent, lambda a: 0.2 * len(a) + 0.1 * len(a.outputs), 12)  # a trained, non-uniform policy
    total = sum(agent.probability(a) for a in DEEP)
    assert total == pytest.approx(1.0, abs=1e-5)


def test_evolution_mutates_only_the_decisions_its_parent_uses() -> None:
    agent = AGENTS["evolution"](DEEP, 2)
    drawn = drive(agent, lambda a: 0.1 * len(a), 60)
    assert all(DEEP.validate(a) == [] for a in drawn)
    assert len(set(drawn[6:])) > 6  # mutations keep finding new architectures, not copies of unused steps
    with pytest.raises(NotImplementedError):  # several index lists per architecture: it cannot say
        agent.probability(drawn[0])


@pytest.mark.parametrize("space", [SMALL, DEEP], ids=["chains", "depth-and-skips"])
@pytest.mark.parametrize("name", ["reinforce", "random", "evolution", "tpe"])  # the RL variants share one policy()
def test_every_agent_gives_each_architecture_once_until_it_has_given_them_all(name: str, space) -> None:
    agent = AGENTS[name](space, 2)
    drawn = drive(agent, lambda a: 0.1 * space.encode(a)[0], space.size)
    assert len(set(drawn)) == space.size  # the budget buys different children, not repeats from the cache
    assert agent.policy().architecture in drawn  # then any: there is no other


@pytest.mark.parametrize("name", ["random", "evolution"])
def test_the_probability_of_an_architecture_is_how_often_it_comes(name: str) -> None:
    agent = AGENTS[name](SMALL, 4) if name != "evolution" else EvolutionAgent(SMALL, AgentConfig(
        seed=4, evolution=replace(SMALL_EVOLUTION, without_replacement=False)))
    given = drive(agent, score, 14)  # evolution: past its random start
    if name == "random":  # without replacement: never one given before
        assert all(agent.probability(a) == 0.0 for a in given)
    draws = 4000
    counts: dict = {}
    for i in range(draws):
        clone = copy.deepcopy(agent)
        clone.rng.seed(i)  # the same state, another draw
        architecture = clone.policy().architecture
        counts[architecture] = counts.get(architecture, 0) + 1
    for architecture in SMALL:
        p = agent.probability(architecture)
        assert abs(counts.get(architecture, 0) / draws - p) <= 4 * math.sqrt(p * (1 - p) / draws) + 1e-9, architecture


@pytest.mark.parametrize("name", ["evolution", "tpe"])
def test_without_replacement_an_agent_learns_as_from_its_repeats_and_spends_no_child_on_them(name: str) -> None:
    def agent(without: bool) -> Agent:  # evolution's population and TPE's model learn from the repeats
        return make_agent(name, SMALL, AgentConfig(seed=5, children_per_update=1, evolution=replace(
            SMALL_EVOLUTION, without_replacement=without), tpe=TPEConfig(without_replacement=without)))
    repeating, first = agent(False), []
    given = 0
    while len(first) < 24:
        architecture = drive(repeating, score, 1)[0]
        given += 1
        if architecture not in first:
            first.append(architecture)
    assert given >= len(first) + 5  # with replacement, children went to repeats
    assert drive(agent(True), score, 24) == first  # the same new architectures, in the same order, and no repeat
    with pytest.raises(NotImplementedError, match=r"cannot say"):
        agent(True).probability(first[0])


def test_the_size_aware_objective_is_mnasnets_soft_form() -> None:
    config = AgentConfig(objective=Objective(reward="accuracy-size", target_params=20_000))
    at = Metrics(accuracy=0.9, loss=0.3, params=20_000, train_seconds=1.0)
    assert config.objective(at) == 0.9  # at or under the target only accuracy counts
    assert config.objective(replace(at, params=5_000)) == 0.9
    assert config.objective(replace(at, params=40_000)) == pytest.approx(0.9 * 2 ** -0.07)
    assert config.objective(replace(at, params=200_000)) == pytest.approx(0.9 * 10 ** -0.07)
    heavier = replace(config.objective, size_weight=-0.5)
    assert heavier(replace(at, params=80_000)) == pytest.approx(0.9 * 4 ** -0.5)
    assert AgentConfig().objective(replace(at, params=10 ** 9)) == 0.9  # the default ignores size


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reward": "accuracy-size"}, "needs a target parameter count >= 1, got None"),
    ({"reward": "accuracy-size", "target_params": 0}, "needs a target parameter count >= 1, got 0"),
    ({"target_params": 10}, "a target parameter count is for the accuracy-size reward"),
    ({"reward": "accuracy-size", "target_params": 10, "size_weight": 0.07}, "size weight must be a negative"),
    ({"reward": "latency"}, "reward must be one of accuracy, accuracy-size"),
])
def test_a_bad_reward_config_is_refused(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Objective(**kwargs)


SIZES = SearchSpace((Decision("width", (1, 8)),), max_layers=1)


class EquallyAccurate(Network):
    """Every child is 80% accurate; its size is its width times 10,000 parameters."""

    def build(self) -> None:
        pass

    def train(self, data, epochs: int) -> None:
        pass

    def evaluate(self, data) -> Metrics:
        return Metrics(accuracy=0.8, loss=0.5, params=10_000 * int(self.architecture[0]["width"]), train_seconds=0.0)

    @property
    def layers(self) -> list[str]:
        return []


@pytest.mark.parametrize("name", ["reinforce", "evolution"])
def test_the_size_aware_reward_prefers_the_smaller_of_equally_accurate_children(name: str) -> None:
    config = AgentConfig(seed=3, children_per_update=4, evolution=SMALL_EVOLUTION,
                         objective=Objective(reward="accuracy-size", target_params=10_000))
    agent = RLAgent(SIZES, config) if name == "reinforce" else EvolutionAgent(SIZES, config)
    small, large = SIZES.decode([0]), SIZES.decode([1])
    controller = NASController(agent, blank_dataset(), network=EquallyAccurate,
                               config=SearchConfig(episodes=60, stop_entropy=0.0))
    result = controller.search()
    assert result.best.architecture == small  # the accuracy reward would keep the first of equals, whichever
    if name == "reinforce":
        assert agent.probability(small) > 0.8 > agent.probability(large)
    else:  # evolution's reward is the objective itself
        rewards = {e.architecture: e.reward for e in result.episodes}
        assert rewards[small] == 0.8 and rewards[large] == pytest.approx(0.8 * 8 ** -0.07)
    assert [e.architecture for e in result.pareto_front] == [small]  # the larger is dominated


def test_a_run_recorded_before_sampling_without_replacement_resumes_as_it_was_recorded() -> None:
    new = dataclasses.asdict(AgentConfig())
    assert AgentConfig.from_json(new).reinforce.without_replacement
    old = copy.deepcopy(new)
    del old["reinforce"]["without_replacement"]
    assert not AgentConfig.from_json(old).reinforce.without_replacement
    flat = {"children_per_update": 4, "seed": 0, "learning_rate": 0.01, "temperature": 2.0}  # the oldest form
    assert not AgentConfig.from_json(flat).reinforce.without_replacement


def test_a_random_evolution_or_tpe_run_recorded_before_they_sampled_without_replacement_resumes_so() -> None:
    new = dataclasses.asdict(AgentConfig())
    assert AgentConfig.from_json(new) == AgentConfig()  # all three sample without replacement
    old = copy.deepcopy(new)
    del old["random"], old["tpe"]  # no settings of their own then
    del old["evolution"]["without_replacement"]
    assert AgentConfig.from_json(old) == replace(AgentConfig(), random=RandomConfig(without_replacement=False),
                                                 evolution=EvolutionConfig(without_replacement=False),
                                                 tpe=TPEConfig(without_replacement=False))
    flat = {"children_per_update": 4, "seed": 0, "population_size": 20}
    assert not AgentConfig.from_json(flat).random.without_replacement
    assert not AgentConfig.from_json(flat).evolution.without_replacement
    assert not AgentConfig.from_json(flat).tpe.without_replacement


def test_a_run_recorded_before_replay_resumes_without_it_at_its_temperature() -> None:
    new = dataclasses.asdict(AgentConfig())
    assert AgentConfig.from_json(new).reinforce == ReinforceConfig()  # replay 32 at temperature 1
    old = copy.deepcopy(new)
    del old["reinforce"]["replay"]
    assert AgentConfig.from_json(old).reinforce.replay == 0
    flat = {"children_per_update": 4, "seed": 0, "learning_rate": 0.01}
    assert (AgentConfig.from_json(flat).reinforce.replay, AgentConfig.from_json(flat).reinforce.temperature) == (0, 2.0)


@pytest.mark.parametrize("key", ["study", "sampler"])
def test_tpe_refuses_a_checkpoint_that_pickled_its_study_or_sampler_and_unpickles_nothing(key: str, tmp_path) -> None:
    # Checkpoints before 2026-12-08 held the sampler pickled, and earlier ones the whole study: a
    # resume reads checkpoints weights-only, and the agent must not unpickle what they carry either.
    agent = AGENTS["tpe"](SMALL, 3)
    drive(agent, score, 13)
    state = agent.state_dict()
    del state["sampler_rng"]
    state[key] = pickle.dumps(WouldRunCode(tmp_path / "ran"))
    with pytest.raises(ValueError, match=r"^the checkpoint holds the TPE agent's Optuna sampler as a pickle, as "
                                         r"nas-pattern wrote it before 2026-12-08; .* this search cannot go on"):
        AGENTS["tpe"](SMALL, 99).load_state_dict(state)
    assert not (tmp_path / "ran").exists()
    state = agent.state_dict()
    names = sorted(state["sampler_rng"])  # where this Optuna keeps the generators: TPE's own, its random sampler's
    assert len(names) == 2
    state["sampler_rng"] = {"_other": state["sampler_rng"][names[0]]}  # where another Optuna keeps one
    with pytest.raises(ValueError, match=rf"the checkpoint's TPE sampler drew from \['_other'\], this Optuna's "
                                         rf"from {re.escape(str(names))}: resume with the Optuna version the search"):
        AGENTS["tpe"](SMALL, 99).load_state_dict(state)


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_s_state_is_plain_values_that_a_resume_reads_without_unpickling(name: str) -> None:
    agent = AGENTS[name](SMALL, 3)
    drive(agent, score, 13)
    agent.policy()  # one waiting
    assert plain_values(agent.state_dict())


@pytest.mark.parametrize("name", ["reinforce", "evolution", "tpe", "random"])
def test_a_checkpoint_from_before_the_handles_resumes(name: str) -> None:
    """Checkpoints written before ask and tell kept no sample numbers: the RLAgent's "pending" held
    its unrewarded samples with score None, evolution's and TPE's their choices, random search a count."""
    agent = AGENTS[name](SMALL, 4)
    drive(agent, score, 9)
    waiting = agent.policy()
    state = copy.deepcopy(agent.state_dict())
    del state["given"], state["open"]
    if name == "reinforce":
        state["pending"] = state["pending"] + [{"actions": list(waiting.actions), "score": None, "advantage": 0.0,
                                                "offset": 0.0}]
    elif name in ("evolution", "tpe"):
        state["pending"] = [list(waiting.actions)]
    else:
        state["waiting"] = 1
    old = AGENTS[name](SMALL, 99)
    old.load_state_dict(state)
    if name != "random":  # random search kept only a count: nothing to reward it with
        (restored,) = old.open.values()
        assert restored.actions == waiting.actions
        assert old.reward(restored, metrics(0.5)) == agent.reward(waiting, metrics(0.5))
        assert drive(old, score, 8) == drive(agent, score, 8)

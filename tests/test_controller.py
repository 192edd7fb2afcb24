"""NASController: the loop follows the sequence diagram, caches, skips invalid children, reports."""

from __future__ import annotations

import re
import time

import pytest
import torch

from helpers import MatchTarget, blank_dataset, make_match_target
from nas_pattern import (
    CNN,
    CNN_SPACE,
    AgentConfig,
    Dataset,
    Metrics,
    NASController,
    RandomAgent,
    ReinforceConfig,
    RLAgent,
    SearchConfig,
    SearchSpace,
    Split,
)
from nas_pattern.agents import AGENTS, make_agent
from nas_pattern.records import SearchFailed

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
    child = ["build", "train", "evaluate", "reward"]
    # m = 2: both children of the update are sampled first (the executor may run them at once),
    # then each is built, trained, evaluated and rewarded in the order it was sampled; one update.
    assert calls == ["policy", "policy", *child, *child, "update_policy"]


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
    # the child as trained during the search, on the test split: a Network without a PyTorch module
    # sends no weights back, so it is trained again from its episode's seed (a CNN's weights are kept)
    assert seen == [("train", 5), ("evaluate", 4)]
    seen.clear()
    tested = controller.final_test(result, final_epochs=2)
    assert seen == [("train", 14), ("evaluate", 4)]  # retrained on train + validation
    assert tested.final_epochs == 2 and tested.test is not None


def test_evaluated_architectures_are_not_retrained() -> None:
    network = make_match_target(CNN_SPACE, TARGET)
    agent = RLAgent(CNN_SPACE, AgentConfig(reinforce=ReinforceConfig(without_replacement=False)))  # it repeats
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
        assert e.reason == "cannot build: 8 filters are not allowed"  # the episode names the architecture
    assert NoEight.builds == result.counts["trained"]  # invalid children were never built
    assert result.best.status == "ok"


def test_a_search_where_nothing_can_be_built_says_so() -> None:
    class Nothing(MatchTarget):
        target, space = TARGET, CNN_SPACE

        def validate(self) -> list[str]:
            return ["never"]

    controller = NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=Nothing,
                               config=SearchConfig(episodes=3))
    with pytest.raises(SearchFailed, match=r"none of the 3 children produced metrics \(invalid\)"):
        controller.search()


def test_a_network_that_is_not_one_is_refused_or_recorded_with_what_is_wrong() -> None:
    class Duck:  # build, train, evaluate and layers, but not a Network: no check() to call
        pass

    with pytest.raises(TypeError, match=r"^network must be a Network subclass .*; got the class Duck$"):
        NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=Duck)  # type: ignore[arg-type]

    class Percent(MatchTarget):  # a custom Network that reports 85.0 for 85%
        target, space = TARGET, CNN_SPACE

        def evaluate(self, data):
            return Metrics(accuracy=85.0, loss=0.5, params=10, train_seconds=0.1)

    for network, reason in [
        (lambda *args, **kwargs: Duck(), "TypeError: the network factory made a Duck, not a nas_pattern Network"),
        (Percent, "ValueError: Percent.evaluate() must return Metrics with an accuracy in [0, 1] (a fraction), got "
                  "Metrics(accuracy=85.0"),
    ]:
        controller = NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=network,
                                   config=SearchConfig(episodes=2))
        with pytest.raises(SearchFailed, match=re.escape(f"none of the 2 children produced metrics (error); the last "
                                                         f"said: {reason}")):
            controller.search()  # each child recorded as an error that says why, the agent not rewarded with 85


def test_policy_updates_every_m_children_and_callbacks_see_every_episode() -> None:
    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=3)), blank_dataset(),
                               network=make_match_target(CNN_SPACE, TARGET), config=SearchConfig(episodes=10))
    seen: list[int] = []
    controller.add_callback(lambda e: seen.append(e.episode))
    result = controller.search()
    assert seen == list(range(1, 11))
    assert [e.episode for e in result.episodes if e.update] == [3, 6, 9]
    assert controller.agent.updates == 3  # type: ignore[attr-defined]


def test_a_callback_can_stop_the_search_and_a_later_search_continues() -> None:
    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2)), blank_dataset(),
                               network=make_match_target(CNN_SPACE, TARGET), config=SearchConfig(episodes=10))
    controller.add_callback(lambda e: controller.stop() if e.episode == 3 else None)
    result = controller.search()
    assert result.stop_reason == "stopped" and [e.episode for e in result.episodes] == [1, 2, 3]
    result = controller.search()  # the request was for that search only
    assert result.stop_reason == "budget" and len(result.episodes) == 10


def test_a_search_ends_with_the_first_child_recorded_past_its_time_limit(monkeypatch) -> None:
    """SearchConfig.time_limit (--time-limit): a search of a budget in children only could not be
    given an hour. The clock is the children's own, so the test does not depend on the machine."""
    from types import SimpleNamespace

    from nas_pattern import controller as controller_module

    clock = [1000.0]
    monkeypatch.setattr(controller_module, "time", SimpleNamespace(monotonic=lambda: clock[0],
                                                                   perf_counter=time.perf_counter))

    class Slow(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def train(self, data: Split, epochs: int) -> None:
            clock[0] += 25  # each child takes 25 s

    controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2)), blank_dataset(),
                               network=Slow, config=SearchConfig(episodes=10, time_limit=60))
    result = controller.search()
    assert result.stop_reason == "time" and [e.episode for e in result.episodes] == [1, 2, 3]  # 25, 50, 75 s
    result = controller.search()  # a later search (a resume) has the limit anew
    assert result.stop_reason == "time" and [e.episode for e in result.episodes] == [1, 2, 3, 4, 5, 6]
    assert len({e.architecture for e in result.episodes}) == 6  # the child drawn with the 3rd, left, came next
    with pytest.raises(ValueError, match=r"^time limit must be > 0 seconds, got 0$"):
        SearchConfig(time_limit=0)


def test_past_its_time_limit_a_search_keeps_the_children_of_the_round_that_finished(monkeypatch) -> None:
    """With K at once (or Ray) the children of a round train together: past the limit, those that
    had finished were dropped with those still training, and a resume trained them again."""
    from types import SimpleNamespace

    from nas_pattern import controller as controller_module
    from nas_pattern.executor import LocalExecutor

    clock = [1000.0]
    monkeypatch.setattr(controller_module, "time", SimpleNamespace(monotonic=lambda: clock[0],
                                                                   perf_counter=time.perf_counter))

    class Slow(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def train(self, data: Split, epochs: int) -> None:
            clock[0] += 25

    class InPairs(LocalExecutor):
        """Two children at a time: the second is done when the first is taken."""

        def run(self, children):
            outcomes = []
            for index in range(len(children)):
                if index % 2 == 0:
                    outcomes += [self.worker.run(child) for child in children[index:index + 2]]
                self.ahead = len(outcomes) - index - 1
                yield outcomes[index]

        def ready(self) -> bool:
            return self.ahead > 0

    def search(limit: float) -> list[int]:
        controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=4)), blank_dataset(),
                                   network=Slow, config=SearchConfig(episodes=12, time_limit=limit),
                                   executor=InPairs())
        result = controller.search()
        assert result.stop_reason == "time"
        return [e.episode for e in result.episodes]

    assert search(30) == [1, 2]  # 1 and 2 done at 50 s, past it: 2 kept, 3 not started
    assert search(60) == [1, 2, 3, 4]  # 3 at 100 s, past it, and 4 done beside it


def test_the_controller_refuses_a_space_its_network_cannot_build() -> None:
    from nas_pattern import RNN_SPACE
    with pytest.raises(ValueError, match="the CNN search space must have exactly the decisions"):
        NASController(RandomAgent(RNN_SPACE), blank_dataset(), network=CNN)


@pytest.mark.slow
def test_same_seed_same_search_with_real_children(small_fashion: Dataset) -> None:
    def run() -> list[tuple[str, float]]:
        controller = NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=2)), small_fashion,
                                   network=CNN, config=SearchConfig(episodes=4, train_limit=300))
        return [(e.architecture.describe(), e.accuracy) for e in controller.search().episodes]

    assert run() == run()


# ---- failing children: recorded, penalised, and the search goes on ----

def failing_network(kind: str) -> type:
    """A MatchTarget child that fails in the way `kind` names whenever its first layer has 8 filters."""

    class Failing(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def train(self, data: Split, epochs: int) -> None:
            if self.architecture[0]["filters"] != 8:
                return
            if kind == "error":
                raise RuntimeError("boom: the child broke")
            if kind == "oom":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            if kind == "timeout":
                time.sleep(0.3)  # sleeps past the 0.1 s limit and returns late; the controller notices

    return Failing


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "text"), [("error", "RuntimeError: boom: the child broke"),
                                            ("oom", "OutOfMemoryError: CUDA out of memory"),
                                            ("timeout", "ChildTimeout: took longer than --child-timeout 0.1 s")])
def test_a_failing_child_is_recorded_and_the_search_goes_on(kind: str, text: str) -> None:
    config = SearchConfig(episodes=40, child_timeout=0.1 if kind == "timeout" else None)
    result = NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=failing_network(kind),
                           config=config).search()
    failed = [e for e in result.episodes if e.status == kind]
    assert failed and all(e.architecture[0]["filters"] == 8 for e in failed)
    assert all(text in e.reason and e.metrics is None and e.reward == 0.0 for e in failed)  # penalty: accuracy 0
    assert len(result.episodes) == 40 and result.counts[kind] == len([e for e in failed if not e.cached])
    assert result.best.status == "ok"


ONE = SearchSpace.from_json({"max_layers": 1, "decisions": [  # one architecture: every draw is the same
    {"name": "filters", "choices": [8]}, {"name": "kernel_size", "choices": [3]},
    {"name": "pool_size", "choices": [2]}, {"name": "dropout_rate", "choices": [0.0]}]})


@pytest.mark.parametrize(("kind", "retried"), [("timeout", True), ("oom", True), ("error", False)])
def test_a_resume_trains_again_what_timed_out_or_ran_out_of_memory_before_it(kind: str, retried: bool) -> None:
    """A resume may raise --child-timeout or change --device: what failed for want of time or memory
    gets another try there. Within a session it comes from the cache; a child that broke always does."""

    class Lacking(make_match_target(ONE, ONE.decode([0, 0, 0, 0]))):  # type: ignore[misc]
        fails = True  # in the first session only

        def train(self, data: Split, epochs: int) -> None:
            if self.fails and kind == "timeout":
                time.sleep(0.3)  # past the 0.1 s limit
            elif self.fails and kind == "oom":
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            elif self.fails:
                raise RuntimeError("boom: the child broke")

    def controller(episodes: int) -> NASController:
        return NASController(RandomAgent(ONE, AgentConfig(children_per_update=2)), blank_dataset(), network=Lacking,
                             config=SearchConfig(episodes=episodes, child_timeout=0.1))

    first = controller(episodes=4)
    with pytest.raises(SearchFailed):
        first.search()
    assert [(e.status, e.cached) for e in first.history] == [(kind, False)] + [(kind, True)] * 3  # one session
    Lacking.fails = False
    resumed = controller(episodes=6)
    resumed.restore(list(first.history), first.state_dict())
    if retried:  # with the time or the memory it lacked: trained, not the failure served again
        resumed.search()
        assert [(e.status, e.cached) for e in resumed.history[4:]] == [("ok", False), ("ok", True)]
    else:
        with pytest.raises(SearchFailed):
            resumed.search()
        assert [(e.status, e.cached) for e in resumed.history[4:]] == [(kind, True)] * 2


FOUR = SearchSpace.from_json({"max_layers": 1, "decisions": [  # four architectures
    {"name": "filters", "choices": [8, 16]}, {"name": "kernel_size", "choices": [3, 5]},
    {"name": "pool_size", "choices": [2]}, {"name": "dropout_rate", "choices": [0.0]}]})


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_a_resume_draws_again_what_timed_out_before_it(name: str) -> None:
    """Every agent draws an architecture once: a resume that may cure a timeout lets it draw those
    again (before, they were trained again only if drawn again, which never came)."""

    class Slow(make_match_target(FOUR, FOUR.decode([1, 1, 0, 0]))):  # type: ignore[misc]
        fails = True  # every child times out in the first session

        def train(self, data: Split, epochs: int) -> None:
            if self.fails:
                time.sleep(0.3)  # past the 0.1 s limit

    def controller(episodes: int, child_timeout: float) -> NASController:
        return NASController(make_agent(name, FOUR, AgentConfig(children_per_update=2)), blank_dataset(),
                             network=Slow, config=SearchConfig(episodes=episodes, child_timeout=child_timeout))

    first = controller(episodes=2, child_timeout=0.1)
    with pytest.raises(SearchFailed):
        first.search()
    timed_out = {e.architecture for e in first.history}
    assert len(timed_out) == 2 and all(e.status == "timeout" for e in first.history)
    Slow.fails = False
    resumed = controller(episodes=6, child_timeout=60)  # the longer time a resume may give
    assert resumed.restore(list(first.history), first.state_dict()) == timed_out
    assert not resumed.agent.drawn & timed_out
    resumed.search()
    after = resumed.history[2:]
    assert len({e.architecture for e in after}) == 4  # the whole space, the two that timed out included
    assert all(e.status == "ok" and not e.cached for e in after)
    scores = getattr(resumed.agent, "scores", None)  # evolution and TPE answer a repeat with the score they know
    assert scores is None or all(scores[e.architecture] == e.metrics.accuracy > 0 for e in after)  # the new one
    if scores is not None:  # and so does the agent a checkpoint of this brings back
        again = make_agent(name, FOUR, AgentConfig(children_per_update=2))
        again.load_state_dict(resumed.agent.state_dict())
        assert again.scores == scores  # type: ignore[attr-defined]


class NaNHead(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)) * float("nan")


class Diverging(CNN):
    def make_module(self) -> torch.nn.Module:
        return NaNHead()


@pytest.mark.parametrize(("episodes", "message"), [(2, "none of the 2 children produced metrics (nan)"),
                                                   (1, "the only child produced no metrics (nan)")])
def test_a_child_whose_loss_turns_nan_is_recorded_as_nan(episodes: int, message: str, small_fashion: Dataset) -> None:
    controller = NASController(RandomAgent(CNN_SPACE), small_fashion, network=Diverging,
                               config=SearchConfig(episodes=episodes, train_limit=64, stop_failures=5))
    with pytest.raises(SearchFailed, match=re.escape(message)):
        controller.search()
    assert [e.status for e in controller.history] == ["nan"] * episodes
    assert "ChildDiverged: training loss became nan in epoch 1" in controller.history[0].reason
    assert controller.network is None  # released


def test_a_real_child_is_stopped_at_its_deadline(small_fashion: Dataset) -> None:
    controller = NASController(RandomAgent(CNN_SPACE), small_fashion, network=CNN,
                               config=SearchConfig(episodes=1, child_timeout=1e-4))
    with pytest.raises(SearchFailed):
        controller.search()
    assert controller.history[0].status == "timeout"
    assert controller.history[0].reason == "ChildTimeout: took longer than --child-timeout 0.0001 s"  # the limit


def test_children_failing_in_a_row_stop_the_search() -> None:
    trained: list = []

    class Broken(make_match_target(CNN_SPACE, TARGET)):  # type: ignore[misc]
        def train(self, data: Split, epochs: int) -> None:
            if len(trained) >= 3:  # the first three children work, then the "GPU" dies
                raise RuntimeError("device lost")
            trained.append(self.architecture)

    result = NASController(RandomAgent(CNN_SPACE), blank_dataset(), network=Broken,
                           config=SearchConfig(episodes=100, stop_failures=5)).search()
    assert result.stop_reason == "failures"
    assert len(result.episodes) == 3 + 5
    assert result.counts["error"] == 5 and result.counts["trained"] == 3


# ---- the three steps by hand walk the same path as search() ----

def hand_controller(m: int = 2, episodes: int = 6) -> NASController:
    return NASController(RLAgent(CNN_SPACE, AgentConfig(children_per_update=m, seed=5)), blank_dataset(),
                         network=make_match_target(CNN_SPACE, TARGET), config=SearchConfig(episodes=episodes))


def by_hand(controller: NASController) -> None:
    controller.train_network(controller.generate_architecture())
    controller.evaluate_network()


def test_children_run_by_hand_are_recorded_as_the_search_records_them() -> None:
    seen: list[int] = []
    controller = hand_controller()
    controller.add_callback(lambda e: seen.append(e.episode))
    by_hand(controller)
    by_hand(controller)
    assert [e.episode for e in controller.history] == seen == [1, 2]
    assert controller.history[0].update is None and controller.history[1].update is not None  # m = 2
    result = controller.search()
    plain = hand_controller().search()
    # Steps by hand then search() give exactly the search that search() alone gives.
    assert [(e.episode, e.architecture, e.reward, e.cached) for e in result.episodes] == \
           [(e.episode, e.architecture, e.reward, e.cached) for e in plain.episodes]
    assert seen == [1, 2, 3, 4, 5, 6]


def test_two_children_by_hand_get_their_own_seeds() -> None:
    controller = hand_controller()
    first = controller.train_network(controller.generate_architecture())
    controller.evaluate_network()
    second = controller.train_network(controller.generate_architecture())
    assert (first.seed, second.seed) == (1, 2)  # search seed 0: child k gets 0 * 100003 + k


def test_the_steps_refuse_to_run_out_of_order() -> None:
    controller = hand_controller()
    with pytest.raises(ValueError, match="call that first"):
        controller.train_network(TARGET)
    with pytest.raises(RuntimeError, match="needs train_network\\(\\) first"):
        controller.evaluate_network()
    drawn = controller.generate_architecture()
    other = next(a for a in CNN_SPACE if a != drawn)
    with pytest.raises(ValueError, match="in the order generate_architecture\\(\\) returned them"):
        controller.train_network(other)
    controller.generate_architecture()  # the second child of the update (m = 2)
    with pytest.raises(ValueError, match="the policy update after episode 2 comes first: evaluate the 2 children"):
        controller.generate_architecture()  # it would be drawn from the policy before the update
    assert controller.history == []  # nothing recorded by a refused step


def test_a_sample_drawn_from_the_agent_by_hand_does_not_shift_the_controllers_rewards() -> None:
    """Ask and tell: the controller rewards the sample of the child it evaluated, so a sample drawn
    beside it (as a JVM program's getAgent().policy() does) stays open for its own reward."""
    controller = NASController(RandomAgent(CNN_SPACE, AgentConfig(children_per_update=2, seed=5)), blank_dataset(),
                               network=make_match_target(CNN_SPACE, TARGET), config=SearchConfig(episodes=2))
    mine = controller.agent.policy()
    by_hand(controller)
    first = controller.history[0]
    assert first.reward == first.accuracy  # random search's reward is the child's own score
    assert controller.agent.open == {mine.number: mine}  # not taken for the controller's child
    assert controller.agent.reward(mine, Metrics(accuracy=0.25, loss=1.0, params=1, train_seconds=0.0)) == 0.25
    by_hand(controller)
    assert controller.history[1].reward == controller.history[1].accuracy


def test_a_search_with_steps_by_hand_resumes_with_the_same_numbering() -> None:
    controller = hand_controller(m=2, episodes=6)
    by_hand(controller)
    by_hand(controller)
    checkpoint = controller.state_dict()  # after the update of child 2
    by_hand(controller)  # child 3: recorded after the checkpoint, replayed on resume
    resumed = hand_controller(m=2, episodes=6)
    resumed.restore(list(controller.history), checkpoint)
    assert [e.episode for e in resumed.history] == [1, 2, 3]
    finished, uninterrupted = resumed.search(), hand_controller().search()
    assert [(e.episode, e.architecture, e.reward) for e in finished.episodes] == \
           [(e.episode, e.architecture, e.reward) for e in uninterrupted.episodes]


def test_a_search_on_images_normalised_by_hand_without_saying_how_is_warned_of() -> None:
    """A Dataset of a name of its own with normalisation None gives a model that takes raw pixels as
    pixels / 255: where its images were normalised otherwise, the model's predict() and best.onnx
    were wrong, and nothing said so."""
    import warnings

    standardised = Split(torch.randn(8, 1, 28, 28), torch.zeros(8, dtype=torch.long), "train")
    with pytest.warns(UserWarning, match=r"^dataset 'mine' does not say how its images were normalised, and they "
                                         r"are not pixel values / 255 \(they go from -\d"):
        NASController(RandomAgent(CNN_SPACE), Dataset("mine", standardised, standardised, standardised, 10))
    scaled = Split(torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long), "train")  # pixels / 255: as predict
    said = Dataset("mine", standardised, standardised, standardised, 10, normalisation=((0.5,), (0.25,)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NASController(RandomAgent(CNN_SPACE), Dataset("mine", scaled, scaled, scaled, 10))
        NASController(RandomAgent(CNN_SPACE), said)
        NASController(RandomAgent(CNN_SPACE), Dataset("fashion-mnist", standardised, standardised, standardised, 10))

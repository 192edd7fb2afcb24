"""Shared weights: the supernet trains through sampled children, scores them without training,
checkpoints exactly; `bench sharing` measures how well it ranks a measured table."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_pattern import Dataset, SearchSpace
from nas_pattern.bench.agreement import RESAMPLES, Ceiling, ceiling_of, kendall, share_interval, spearman, top_overlap
from nas_pattern.bench.common import mean_t95
from nas_pattern.bench.sharing import Ranking, rank_table, summarize, uniform
from nas_pattern.bench.sharing_search import DerivationPrice, multiply_adds
from nas_pattern.networks import CNN
from nas_pattern.networks.base import Metrics
from nas_pattern.networks.supernet import Supernet
from nas_pattern.records import Child, Episode
from nas_pattern.search_space import Architecture
from nas_pattern.sharing import SharedWeights, SharingConfig
from nas_pattern.table import Row, Table
from nas_pattern.trainer import TrainConfig

TINY = SearchSpace.from_json({"max_layers": 1, "decisions": [
    {"name": "filters", "choices": [4, 8]}, {"name": "kernel_size", "choices": [1, 3]},
    {"name": "pool_size", "choices": [2]}, {"name": "dropout_rate", "choices": [0.0]}]})


def test_the_rank_statistics_match_hand_computed_values() -> None:
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant pairs, 1 discordant
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert kendall([1, 2, 3], [3, 2, 1]) == pytest.approx(-1) and spearman([1, 2, 3], [1, 2, 3]) == pytest.approx(1)
    assert kendall([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(2 * 3))  # tau-b: a tie in x
    assert top_overlap(list(range(20)), list(range(20))) == 10
    assert top_overlap(list(range(20)), list(range(20))[::-1]) == 0


def shared(small: Dataset, seed: int = 0) -> SharedWeights:
    supernet = Supernet.of(CNN, TINY, small.input_shape, small.num_classes)
    return SharedWeights(supernet, SharingConfig(batch_size=16), TrainConfig(precision="fp32"), "cpu", seed)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"derive": 3, "rescore": 2}, "the derivation retrains at least 1 architecture of the ones it scores again, "
                                  "got 3 of 2"),
    ({"val_images": 0}, "shared steps must be >= 0 and validation images >= 1, got 10 and 0"),
    ({"learning_rate": math.inf}, "the shared weights' learning rate must be > 0, got inf"),
    ({"weight_decay": -0.1}, "the shared weights' weight decay must be >= 0, got -0.1"),
])
def test_a_bad_sharing_config_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SharingConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
def test_shared_training_learns_and_a_checkpoint_continues_it_exactly(small_fashion: Dataset) -> None:
    torch.manual_seed(0)
    first = shared(small_fashion)
    architecture = TINY.decode([1, 1, 0, 0])
    before = first.score(architecture, small_fashion.val).accuracy
    first.train(small_fashion.train, 40, uniform(TINY, 0))
    state = {k: (v.copy() if isinstance(v, dict) else v) for k, v in first.state_dict().items()}
    resumed = shared(small_fashion, seed=99)
    resumed.load_state_dict(torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t,
                                                         state))
    draws_a, draws_b = uniform(TINY, 1), uniform(TINY, 1)
    loss_a = first.train(small_fashion.train, 30, draws_a)
    loss_b = resumed.train(small_fashion.train, 30, draws_b)
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(first.supernet.parameters(), resumed.supernet.parameters(),
                                                 strict=True))
    after = first.score(architecture, small_fashion.val)
    assert after.accuracy > before + 0.2  # 70 minibatches of 16: well above chance
    assert after.params == sum(p.numel() for p in first.supernet.child(architecture).module.parameters())


def test_a_child_is_scored_in_passes_of_at_most_the_sharing_configs_eval_batch_size(small_fashion: Dataset,
                                                                                  monkeypatch) -> None:
    from nas_pattern import trainer

    weights = shared(small_fashion)
    weights.config = replace(weights.config, eval_batch_size=7)
    passes: list[int] = []
    sized = trainer.images_per_pass
    monkeypatch.setattr(trainer, "images_per_pass", lambda *args: passes.append(sized(*args)) or passes[-1])
    weights.score(TINY.decode([1, 1, 0, 0]), small_fashion.val.head(20))
    assert passes == [7]


def test_a_state_taken_is_not_changed_by_training_after_it(small_fashion: Dataset) -> None:
    weights = shared(small_fashion)
    state = weights.state_dict()
    before = {name: value.clone() for name, value in state["supernet"].items()}
    weights.train(small_fashion.train, 3, uniform(TINY, 0))
    assert all(torch.equal(before[name], state["supernet"][name]) for name in before)
    assert not all(torch.equal(before[name], value) for name, value in weights.supernet.state_dict().items())


def ranking(seed: int, tau: float, shared: tuple[float, ...] = (0.5, 0.7, 0.6)) -> Ranking:
    """A ranking of TINY's first three architectures (stand-alone 0.80, 0.70, 0.90), as if by a supernet of `seed`."""
    pairs = [(a, alone, together) for a, alone, together in zip(list(TINY)[:3], (0.8, 0.7, 0.9), shared,
                                                                strict=True)]
    return Ranking("t", tau, tau, 1, 3, 1.0, 1.0, pairs, seed=seed)


CEILING = Ceiling(0.5, 96, 0.4, 0.6)


def test_the_ceiling_has_the_interval_of_its_bootstrap() -> None:
    first = [0.01 * i for i in range(40)]
    ceiling = ceiling_of(first, first)  # the same ranking twice: tau 1, and every resample says so
    assert (ceiling.tau, ceiling.count, ceiling.low, ceiling.high) == (1.0, 40, 1.0, 1.0)
    noisy = ceiling_of(first, [v + (0.15 if i % 3 == 0 else 0.0) for i, v in enumerate(first)])
    assert noisy.low < noisy.tau < noisy.high < 1 and ceiling_of(first, first[::-1]).high == -1.0
    assert noisy == ceiling_of(first, [v + (0.15 if i % 3 == 0 else 0.0) for i, v in enumerate(first)])  # repeatable
    interval = f"(95% interval {noisy.low:.2f}-{noisy.high:.2f})"
    assert noisy.line() == f"seed-to-seed tau {noisy.tau:.2f} {interval} over 40 retrained"
    assert len(noisy.resampled) == RESAMPLES and noisy.low == pytest.approx(np.percentile(noisy.resampled, 2.5))


def test_tau_over_the_ceiling_has_an_interval_with_the_ceiling_s_uncertainty_too() -> None:
    taus = [0.4, 0.5, 0.6]
    assert all(math.isnan(x) for x in share_interval(taus, CEILING))  # no bootstrap to draw from
    fixed = replace(CEILING, resampled=(0.5,) * 100)  # a ceiling without noise: the seeds' interval, over 0.5
    half = mean_t95(taus)[1] / 0.5
    low, high = share_interval(taus, fixed)
    assert low == pytest.approx(1 - half, abs=0.1) and high == pytest.approx(1 + half, abs=0.1)
    noisy = replace(CEILING, resampled=tuple(np.linspace(0.25, 1.0, 100)))  # a ceiling of 0.25 to 1
    assert share_interval([0.5], noisy) == pytest.approx((0.5 / 0.98, 0.5 / 0.27), rel=0.1)  # one seed: the ceiling's
    both = share_interval(taus, noisy)
    assert both[0] < low and both[1] > high and both == share_interval(taus, noisy)  # wider; repeatable
    seeds = [ranking(seed, tau) for seed, tau in enumerate(taus)]
    zero = replace(CEILING, tau=0.0, resampled=(0.0,) * 10)  # no ratio to a ceiling of 0, and no error
    assert all(math.isnan(x) for x in share_interval(taus, zero))
    assert summarize(seeds, zero, 0.05)[2] == "    tau / ceiling    nan"
    line = summarize(seeds, fixed, random=0.05)[2]
    assert line == f"    tau / ceiling    1.00 ± 0.50 (the seeds' interval); {low:.2f}-{high:.2f} with the ceiling's " \
                   "uncertainty too"


def test_the_ranking_bench_gives_means_over_seeds_with_their_intervals() -> None:
    assert mean_t95([0.4, 0.5, 0.6]) == pytest.approx((0.5, 4.30 * 0.1 / math.sqrt(3)))  # Student's t, 2 degrees
    assert mean_t95([0.3])[0] == 0.3 and math.isnan(mean_t95([0.3])[1])
    assert all(math.isnan(x) for x in mean_t95([0.3, math.nan])) and mean_t95([1, 2, 3])[0] == 2.0
    seeds = [ranking(0, 0.4), ranking(1, 0.5), ranking(2, 0.6, shared=(0.9, 0.1, 0.2))]
    *entangled, picks = summarize(seeds, CEILING, random=0.05)
    assert entangled == ["  means over 3 supernet(s), seeds 0, 1, 2, with 95% intervals:",
                         "    Kendall's tau    0.50 ± 0.25",
                         "    tau / ceiling    1.00 ± 0.50",
                         "    Spearman's rho   0.50 ± 0.25",
                         "    top-10 overlap   1.0 ± 0.0 of 10"]
    # K=1: the shared weights' best is stand-alone 0.70 for two seeds (0.2 short of 0.9), 0.80 for one (0.1)
    assert f"K=1 {0.5 / 3:.4f} ± " in picks and "K=5 0.0000 ± 0.0000" in picks
    assert picks.endswith("(a random architecture: 0.0500)")
    clear = summarize(seeds, CEILING, 0.05, separate=[ranking(0, 0.5), ranking(1, 0.62), ranking(2, 0.71)])[6]
    assert "Kendall's tau 0.61 ± 0.26; minus entanglement's, seed for seed: 0.11 ± 0.02 (a clear difference" in clear
    unclear = summarize(seeds, CEILING, 0.05, separate=[ranking(0, 0.5), ranking(1, 0.4), ranking(2, 0.6)])[6]
    assert "seed for seed: 0.00 ± 0.25 (no clear difference: the interval holds 0)" in unclear
    alone = summarize(seeds[:1], CEILING, 0.05, separate=[ranking(0, 0.45)])
    assert alone[1:3] == ["    Kendall's tau    0.40", "    tau / ceiling    0.80"]
    assert "0.05 (too few seeds to say)" in alone[6]


@pytest.mark.slow
def test_the_ranking_bench_compares_shared_weights_with_a_measured_table(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rows = {a: Row(val_accuracy=0.5 + 0.01 * i, val_loss=1.0, test_accuracy=0.5, test_loss=1.0, params=10,
                   train_seconds=1.0) for i, a in enumerate(TINY)}
    table = Table(TINY, rows, {"budget": {"network": "cnn", "dataset": "fashion-mnist", "train_images": 300,
                                          "epochs": 1}, "space": TINY.to_json()})
    ranking = rank_table(table, "tiny", torch.device("cpu"), score_images=200)
    assert ranking.architectures == 4 and len(ranking.pairs) == 4
    torch.rand(100)  # the global generator moves on: a seed still ranks as it did (its supernet's initial weights too)
    assert rank_table(table, "tiny", torch.device("cpu"), score_images=200).pairs == ranking.pairs
    assert -1 <= ranking.kendall <= 1 and -1 <= ranking.spearman <= 1 and 0 <= ranking.top <= 4
    line = ranking.line()
    assert line.startswith("tiny: Kendall's tau ") and "Spearman's rho" in line and "top-10 overlap" in line
    from nas_pattern.bench.sharing import seed_to_seed

    table = Table(TINY, rows, {**table.metadata, "budget": {**table.metadata["budget"], "val_images": 200}})
    ceiling = seed_to_seed(table, torch.device("cpu"), sample=4)
    assert ceiling.count == 4 and -1 <= ceiling.tau <= 1 and -1 <= ceiling.low <= ceiling.high <= 1

    from nas_pattern.bench.cli import main  # the section, end to end: two supernets of each kind, the summary

    table.save(tmp_path / "tiny.csv")
    assert main(["sharing", "--table", str(tmp_path / "tiny.csv"), "--seeds", "2", "--seed", "3", "--shared-epochs",
                 "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 per table (seeds 3-4)" in out and "seed-to-seed tau" in out and "over 4 retrained (the ceiling)" in out
    assert "(95% interval " in out and "  seed 4: Kendall's tau" in out
    assert out.count("one module per candidate: Kendall's tau") == 2
    assert "  means over 2 supernet(s), seeds 3, 4, with 95% intervals:\n    Kendall's tau    " in out
    assert "one module per candidate instead: Kendall's tau" in out and "minus entanglement's, seed for seed" in out
    assert (tmp_path / "sharing-tiny.csv").exists() and (tmp_path / "sharing-tiny.png").exists()


@pytest.mark.parametrize("stopped_in", [1, 2])
def test_a_stopped_ranking_bench_says_which_tables_pairs_it_kept(stopped_in: int, tmp_path: Path, monkeypatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C or SIGTERM in `bench sharing` (three tables, five supernets of each kind per table) said
    only "interrupted", nothing of the pairs it had written to --out."""
    from nas_pattern.bench import sharing
    from nas_pattern.bench.cli import main

    rows = {a: Row(val_accuracy=0.5 + 0.01 * i, val_loss=1.0, test_accuracy=0.5, test_loss=1.0, params=10,
                   train_seconds=1.0) for i, a in enumerate(TINY)}
    paths = []
    for name in ("first", "second"):
        metadata = {"budget": {"network": "cnn", "train_images": 300, "epochs": 1}, "space": TINY.to_json()}
        Table(TINY, rows, metadata).save(tmp_path / f"{name}.csv")
        paths.append(str(tmp_path / f"{name}.csv"))
    ranked: list[str] = []

    def rank(table: Table, name: str, *args, **kwargs) -> Ranking:  # no training: scores from the table
        ranked.append(name)
        if len(ranked) == 2 * stopped_in - 1:  # the table's first supernet
            raise KeyboardInterrupt  # as Ctrl-C, or SIGTERM (bench's sigterm_as_interrupt), raises it
        pairs = [(a, row.val_accuracy, row.val_accuracy) for a, row in table.rows.items()]
        return Ranking(name, 1.0, 1.0, 4, 4, 0.0, 0.0, pairs)

    monkeypatch.setattr(sharing, "tables", lambda args: paths)
    monkeypatch.setattr(sharing, "rank_table", rank)
    monkeypatch.setattr(sharing, "seed_to_seed", lambda *args, **kwargs: Ceiling(1.0, 4, 1.0, 1.0))
    out = tmp_path / "out"
    assert main(["sharing", "--seeds", "1", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    if stopped_in == 1:
        assert err == f"\npython -m nas_pattern.bench: interrupted; no table was finished; {out} is as it was\n"
        assert sorted(p.name for p in out.iterdir()) == []
    else:
        assert err == (f"\npython -m nas_pattern.bench: interrupted; the pairs of 1 of 2 tables are in {out} "
                       "(sharing-first.csv, each with its .png)\n")
        assert sorted(p.name for p in out.iterdir()) == ["sharing-first.csv", "sharing-first.png"]


def sharing_search(small: Dataset, agent_name: str, episodes: int = 8, seed: int = 0):
    from nas_pattern import AgentConfig, NASController, SearchConfig
    from nas_pattern.agents import make_agent

    agent = make_agent(agent_name, TINY, AgentConfig(children_per_update=2, seed=seed))
    config = SearchConfig(episodes=episodes, train_limit=200, seed=seed,
                          sharing=SharingConfig(steps=6, val_images=100, batch_size=16))
    return NASController(agent, small, network=CNN, config=config, train_config=TrainConfig(precision="fp32"))


@pytest.mark.parametrize("agent", ["reinforce", "random", "evolution", "tpe"])
def test_every_agent_searches_with_shared_weights(small_fashion: Dataset, agent: str) -> None:
    controller = sharing_search(small_fashion, agent)
    result = controller.search()
    assert len(result.episodes) == 8
    assert all(e.evaluation == "shared" for e in result.episodes)
    assert controller.worker.shared is not None and controller.worker.shared.steps == 4 * 6  # 4 rounds of 6
    fresh = [e for e in result.episodes if not e.cached and e.status == "ok"]
    assert fresh and all(e.metrics is not None and e.metrics.train_seconds < 5 for e in fresh)  # scored, untrained


def key(episode):
    """What a search decided and measured for a child (its wall times aside)."""
    metrics = episode.metrics
    return episode.architecture, metrics and (metrics.accuracy, metrics.loss, metrics.params), episode.reward


def test_a_search_with_shared_weights_resumes_from_its_checkpoint_exactly(small_fashion: Dataset) -> None:
    whole = sharing_search(small_fashion, "reinforce").search()
    twin = sharing_search(small_fashion, "reinforce").search()  # the same seed, the same search
    assert [key(e) for e in whole.episodes] == [key(e) for e in twin.episodes]
    first = sharing_search(small_fashion, "reinforce", episodes=5)
    first.search()  # stops inside the third round: its checkpoint is the boundary before that round's children
    checkpoint = first.state_dict()
    checkpoint = torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, checkpoint)
    again = sharing_search(small_fashion, "reinforce")
    again.restore(first.history, checkpoint)
    resumed = again.search()
    assert [key(e) for e in resumed.episodes] == [key(e) for e in whole.episodes]


def cloned(state):
    return torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, state)


def test_a_kill_inside_a_round_resumes_to_the_uninterrupted_search(small_fashion: Dataset) -> None:
    """SIGKILL after episode 5: on disk, the checkpoint of the update after episode 4 and five
    episodes; the resume redoes round 3's shared training, replays episode 5, goes on."""
    whole = sharing_search(small_fashion, "reinforce").search()
    four = sharing_search(small_fashion, "reinforce", episodes=4)
    four.search()
    resumed = sharing_search(small_fashion, "reinforce")
    resumed.restore(whole.episodes[:5], cloned(four.state_dict()))
    assert [key(e) for e in resumed.search().episodes] == [key(e) for e in whole.episodes]
    # SIGTERM as the first round's children are drawn: the checkpoint is the round's boundary,
    # after its shared training; the resume does not train it again
    by_hand = sharing_search(small_fashion, "reinforce")
    by_hand.generate_architecture()
    again = sharing_search(small_fashion, "reinforce")
    again.restore([], cloned(by_hand.state_dict()))
    assert again.worker.shared is not None and again.worker.shared.steps == 6
    assert [key(e) for e in again.search().episodes] == [key(e) for e in whole.episodes]


def test_weight_sharing_needs_the_local_executor_and_a_network_with_a_supernet(small_fashion: Dataset) -> None:
    from nas_pattern import AgentConfig, NASController, RandomAgent, SearchConfig
    from nas_pattern.executor import RayExecutor

    config = SearchConfig(episodes=2, sharing=SharingConfig())
    with pytest.raises(ValueError, match="use the local executor"):
        NASController(RandomAgent(TINY, AgentConfig()), small_fashion, network=CNN, config=config,
                      executor=RayExecutor())
    from helpers import make_match_target

    with pytest.raises(ValueError, match="has none"):  # a user's own Network: no supernet to slice it from
        network = make_match_target(TINY, TINY.decode([0, 0, 0, 0]))
        NASController(RandomAgent(TINY, AgentConfig()), small_fashion, network=network, config=config)


def test_the_derivation_trains_the_best_by_shared_score_from_scratch(small_fashion: Dataset) -> None:
    controller = sharing_search(small_fashion, "reinforce")
    searched = controller.search()
    result = controller.derive(searched, top=3)
    candidates = sorted(searched.trained, key=lambda e: (-e.accuracy, e.episode))[:10]  # SharingConfig.rescore
    assert sorted(controller.rescored) == sorted(e.episode for e in candidates)
    assert all(m.accuracy == controller.worker.shared.score(e.architecture, small_fashion.val).accuracy
               for e in candidates[:2] for m in [controller.rescored[e.episode]])  # the final weights, whole split
    again = sorted(candidates, key=lambda e: (-controller.rescored[e.episode].accuracy, e.episode))[:3]
    assert [e.episode for e in result.derived] == [e.episode for e in again]
    # the result keeps the score that chose them: every candidate's, best first
    assert list(result.rescored) == [e.episode for e in sorted(
        candidates, key=lambda e: (-controller.rescored[e.episode].accuracy, e.episode))]
    assert result.rescored == controller.rescored
    assert all(e.evaluation == "standalone" for e in result.derived)
    assert result.best in result.derived and result.best.accuracy == max(e.accuracy for e in result.derived)
    # its wall time, apart from the search's: it holds the derived children's own
    assert searched.derive_seconds == 0 and result.seconds == searched.seconds
    assert result.derive_seconds >= sum(e.seconds for e in result.derived) > 0
    # each is the child a from-scratch search would have trained at that episode, with that seed
    alone = controller.worker.train_alone(Child(result.best.episode, result.best.architecture))
    assert alone.metrics == replace(result.best.metrics, train_seconds=alone.metrics.train_seconds)
    assert controller.best_model is not None and controller.best_model[0] is result.best
    tested = controller.final_test(result)  # the derived weights, tested as they are
    assert tested.test is not None and controller.best_model[0] is result.best


def test_a_derivation_takes_what_a_stopped_one_recorded_only_while_it_is_what_it_would_train(
        small_fashion: Dataset, monkeypatch) -> None:
    """derive(recorded=...): the architectures a stopped derivation trained from scratch are taken as
    they were recorded while they are those ranked first, in order; from the first that is not, all
    are trained (a resume that extended the search may rank others first)."""
    controller = sharing_search(small_fashion, "reinforce")
    searched = controller.search()
    full = controller.derive(searched, top=3)
    trained: list[int] = []
    train_alone = controller.worker.train_alone
    monkeypatch.setattr(controller.worker, "train_alone", lambda child: (trained.append(child.number),
                                                                         train_alone(child))[1])

    again = controller.derive(searched, top=3, recorded=full.derived[:2])
    assert trained == [full.derived[2].episode]  # the first two as recorded
    assert again.derived[:2] == full.derived[:2] and again.derived[0] is full.derived[0]
    assert again.best == full.best
    if again.best in full.derived[:2]:  # recorded without weights: the final test retrains it from its seed
        assert controller.best_model is None
    trained.clear()
    moved = [full.derived[1], full.derived[0]]  # not in the order it ranks them now
    assert [e.episode for e in controller.derive(searched, top=3, recorded=moved).derived] == \
        [e.episode for e in full.derived] and trained == [e.episode for e in full.derived]
    trained.clear()
    controller.derive(searched, top=3, recorded=[full.derived[0], full.derived[2]])  # the second is another
    assert trained == [e.episode for e in full.derived[1:]]


def test_the_sharing_search_bench_prices_the_derivation_by_what_it_will_score_again_and_retrain() -> None:
    """bench sharing-search stops a shared-weight search so that its derivation ends within the
    from-scratch search's wall time. It priced every candidate at the from-scratch search's mean
    child and mean scoring, and the candidates are often the widest: single searches overran by 30%."""
    arch = [Architecture.from_json({"layers": [{"filters": i}]}) for i in range(8)]
    cost = {a: 100_000.0 * i for i, a in enumerate(arch)}.__getitem__  # the multiply-adds of each

    def episode(i: int, seconds: float, accuracy: float = 0.5, number: int = 1, cached: bool = False) -> Episode:
        return Episode(number, arch[i], Metrics(accuracy, 0.0, 1, seconds), 0.0, 0.0, cached=cached, seconds=seconds)

    alone = [episode(0, 1.0), episode(1, 3.0), episode(2, 5.0), episode(7, 0.0, cached=True)]
    config = SharingConfig(val_images=100, rescore=3, derive=2)
    price = DerivationPrice(alone, config, 1000, cost)  # from scratch: 1 s + 2 s per 100,000 multiply-adds
    assert price.seconds() == 0  # nothing scored yet
    for number, (i, accuracy, scoring) in enumerate([(0, 0.80, 0.01), (2, 0.85, 0.03), (5, 0.70, 0.05),
                                                     (1, 0.83, 0.02), (3, 0.80, 0.04)], start=1):
        price.seen(episode(i, scoring, accuracy, number))
    price.seen(replace(episode(6, 0.01, 0.99, 6), metrics=None, status="invalid"))  # failed: never derived
    # scored again: the best three (0.85, 0.83, then the earlier 0.80) at their own scoring's time, 10x the
    # images; retrained: the best two at the line's seconds for theirs
    assert price.seconds() == pytest.approx((0.03 + 0.02 + 0.01) * 10 + 5.0 + 3.0)
    assert price.child(arch[0]) == 1.0
    one = DerivationPrice([episode(4, 2.0), episode(4, 4.0)], SharingConfig(rescore=1, derive=1), 250, cost)
    one.seen(episode(7, 0.5))  # all of one cost: their mean; scored again on as many images as in the search
    assert one.seconds() == 0.5 + 3.0
    with pytest.raises(ValueError, match="trained no child"):
        DerivationPrice([episode(5, 2.0, cached=True)], config, 1000, cost)


def test_multiply_adds_count_the_work_of_a_childs_layers_not_its_parameters() -> None:
    pooled, wide = (CNN(Architecture.from_json({"layers": [
        {"filters": 64, "kernel_size": 3, "pool_size": pool, "dropout_rate": 0.0}]}), (1, 28, 28), 10)
        for pool in (2, 1))
    for network in (pooled, wide):
        network.build()
    # conv: 64 x 28 x 28 outputs of 9 multiply-adds; linear: 10 outputs of 64 x 14 x 14 or 64 x 28 x 28 inputs
    assert multiply_adds(pooled) == 64 * 28 * 28 * 9 + 10 * 64 * 14 * 14
    assert multiply_adds(wide) == 64 * 28 * 28 * 9 + 10 * 64 * 28 * 28

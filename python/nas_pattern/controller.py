"""NASController: the search loop of the pattern, walking its sequence diagram.

generate_architecture() (agent.policy()) -> train_network() (build and train the child) ->
evaluate_network() (validation metrics; agent.reward(sample, metrics), and agent.update_policy()
every m children) -> repeat. search() runs the same steps, the training and evaluation on its executor.
With weight sharing, each round starts with a phase of shared training, and derive() turns the
search's best by shared score into its product, trained from scratch.

One piece: the three steps, the loop, its checkpoints and the derivation all read and change the
state of one search (its history, its cache, the children drawn and not yet evaluated).
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from nas_pattern.agents.base import Agent, Sample
from nas_pattern.data import PIXEL_STATS, Dataset
from nas_pattern.executor import Executor, LocalExecutor
from nas_pattern.model import MODEL, ONNX_MODEL, ModelCard, write_model_files
from nas_pattern.networks.base import Metrics, Network, NetworkFactory, TorchNetwork
from nas_pattern.networks.cnn import CNN
from nas_pattern.records import PENALTY, Best, Child, Episode, Outcome, SearchConfig, SearchFailed, SearchResult
from nas_pattern.replay import Replay, generators_state
from nas_pattern.search_space import Architecture
from nas_pattern.trainer import Epoch, TrainConfig
from nas_pattern.worker import Worker, WorkerSetup

# Failures that the session's settings decide, both of which a resume may change (--child-timeout,
# --device): an architecture that failed so before a resume is trained again when it is drawn again.
# Within one session it is served from the cache, as every other outcome is.
RETRIED = ("timeout", "oom")


class NASController:
    """Drives the search: has an agent (composition, not inheritance), the child network it builds,
    and the executor that trains the children."""

    def __init__(self, agent: Agent, data: Dataset, network: NetworkFactory = CNN,
                 config: SearchConfig | None = None, train_config: TrainConfig | None = None,
                 device: torch.device | str = "cpu", executor: Executor | None = None):
        self.agent = agent
        self.network_factory = network
        self.config = config or SearchConfig()
        self.train_config = train_config or TrainConfig()
        if isinstance(network, type):
            if not issubclass(network, Network):
                raise TypeError(f"network must be a Network subclass (it implements build, train, evaluate and "
                                f"layers, and inherits check), or a function that makes one; got the class "
                                f"{network.__name__}")
            network.check_space(agent.space)
        _check_normalisation(data)
        # This process's worker: the data goes to the device once, in the layout the children train in.
        self.worker = Worker(WorkerSetup(network, agent.space, data, self.config, self.train_config), device)
        self.device = self.worker.device
        self.data = self.worker.data
        self.executor = executor or LocalExecutor()
        if self.config.sharing is not None and not (isinstance(self.executor, LocalExecutor)
                                                     and self.executor.children_at_once == 1):
            raise ValueError("weight sharing trains one supernet in this process: use the local executor, "
                             "one child at a time")
        self.executor.start(self.worker)
        self._shared_rng = random.Random(self.config.seed)  # the architectures the shared weights train on
        self._shared_rounds = 0  # policy-update rounds whose shared training is done
        self.history: list[Episode] = []
        self._cache: dict[Architecture, Episode] = {}  # first evaluation of each architecture
        self._callbacks: list[Callable[[Episode], None]] = []
        self._shared_callbacks: list[Callable[[int, float], None]] = []
        self._stop = False  # set by stop(), read by search() after each child
        self._deadline: float | None = None  # time.monotonic() past which search() ends (SearchConfig.time_limit)
        self._past_limit = False  # a child was recorded past it: the rest of its round only as far as it is done
        self._drawn: list[Child] = []  # sampled for the current update, not evaluated yet
        self._samples: dict[int, Sample] = {}  # the agent's handle of each drawn child, by episode number
        self._boundary: dict[str, Any] | None = None  # state_dict() from before they were sampled
        self._trained: tuple[Child, float] | None = None  # train_network()'s child and its start time
        # The best episode so far with its weights (best.pt), when its worker sent them back.
        self.best_model: tuple[Episode, dict[str, Any]] | None = None
        self._best = Best(agent.config.objective)  # the best episode in history
        # derive()'s candidates scored with the final shared weights on the whole validation split, best first
        self.rescored: dict[int, Metrics] = {}

    @property
    def network(self) -> Network | None:
        """The child trained most recently in this process."""
        return self.worker.network

    def add_callback(self, callback: Callable[[Episode], None]) -> None:
        """Call `callback(episode)` after each child is evaluated and rewarded (e.g. to record it)."""
        self._callbacks.append(callback)

    def add_shared_callback(self, callback: Callable[[int, float], None]) -> None:
        """With weight sharing, call `callback(steps, loss)` after each phase of shared training:
        the minibatches the supernet has trained on so far, and this phase's mean loss."""
        self._shared_callbacks.append(callback)

    def stop(self) -> None:
        """Ask search() to end after the current child (e.g. from a callback); its result is
        "stopped"."""
        self._stop = True

    # ---- the three steps of the pattern ----

    def generate_architecture(self) -> Architecture:
        """Ask the agent for the next child. It gets the next episode number (which seeds it) and
        waits to be trained; the agent's sample is kept to reward it with. ValueError past the next
        policy update: the children drawn before it are evaluated first (the update learns from them)."""
        number = len(self.history) + len(self._drawn) + 1
        m = self.agent.config.children_per_update
        if self._drawn and (number - 1) % m == 0:
            raise ValueError(f"the policy update after episode {number - 1} comes first: evaluate the "
                             f"{len(self._drawn)} children generated before it, then generate the next")
        if not self._drawn:
            self._train_shared(number)
            self._boundary = self.state_dict()  # a checkpoint taken now returns to before this round
        sample = self.agent.policy()
        child = Child(number, sample.architecture)
        self._samples[number] = sample
        self._drawn.append(child)
        return child.architecture

    def train_network(self, architecture: Architecture) -> Network:
        """Build the child generate_architecture() returned and train it on the training split, in
        this process. Each child's reward names its own sample, but children are trained and
        rewarded in the order they were generated, so that a resumed search replays its record
        exactly (the REINFORCE baseline's moving average depends on the order of the rewards)."""
        if not self._drawn:
            raise ValueError("train_network() trains an architecture from generate_architecture(); call that first")
        child = self._drawn[0]
        if architecture != child.architecture:
            raise ValueError(f"train_network() got {architecture.describe()}, but the next child to train is "
                             f"{child.architecture.describe()} (episode {child.number}): children are trained "
                             "in the order generate_architecture() returned them")
        start = time.perf_counter()
        network = self.worker.train_network(child.architecture, child.number)
        self._trained = (child, start)
        return network

    def evaluate_network(self) -> Metrics:
        """Metrics of the child just trained on the validation split (never the test split). The
        agent is rewarded with them and the episode recorded, exactly as search() records its own."""
        if self._trained is None:
            raise RuntimeError("evaluate_network() needs train_network() first")
        child, start = self._trained
        metrics = self.worker.evaluate_network()
        self._trained = None
        how = "standalone" if self.worker.shared is None else "shared"
        self._record(child, Outcome("ok", metrics=metrics, seconds=time.perf_counter() - start, evaluation=how),
                     cached=False)
        return metrics

    # ---- the loop ----

    # --8<-- [start:search]
    def search(self) -> SearchResult:
        """Run episodes until the budget is spent, the policy has converged, children keep failing,
        or the time limit has passed.

        Continues after the episodes already in `history` (run by hand, or restored by `restore()`).
        """
        start, before = time.perf_counter(), len(self.history)
        stop_reason = "budget"
        self._stop = False
        limit = self.config.time_limit
        self._deadline = None if limit is None else time.monotonic() + limit
        self._past_limit = False
        while len(self.history) < self.config.episodes and stop_reason == "budget":
            for episode in self._update_round():
                stop_reason = self._stop_reason(episode)
                if stop_reason == "time":  # the round's children that finished still come (_update_round)
                    self._past_limit = True
                elif stop_reason != "budget":
                    break
        return self._result(stop_reason, time.perf_counter() - start, before)
    # --8<-- [end:search]

    # --8<-- [start:derive]
    def derive(self, result: SearchResult, top: int | None = None,
               callback: Callable[[Episode], None] | None = None, recorded: Sequence[Episode] = ()) -> SearchResult:
        """With weight sharing, the search's product. The best SharingConfig.rescore distinct
        architectures by the shared-weight score they got in the search are scored again with the
        final shared weights on the whole validation split (`rescored`, by episode); the best `top`
        of those (default: SharingConfig.derive) are trained from scratch at the search's budget,
        each with its episode's seed, and evaluated on the validation split; the best of them by
        the objective becomes the result's best (its weights best_model's), and the result's
        derive_seconds the wall time of all this. `callback(e)` after each. `recorded`: what a
        derivation that was stopped recorded (a run directory's derived.json); while they are the
        architectures ranked first now, in order, they are taken as they are, not trained again.
        Without weight sharing the result is returned as it is."""
        sharing = self.config.sharing
        if sharing is None:
            return result
        assert self.worker.shared is not None
        start = time.perf_counter()
        score = lambda e: (-self._best.objective(e.metrics or PENALTY), e.episode)  # noqa: E731
        candidates = sorted(result.trained, key=score)[:max(sharing.rescore, top or sharing.derive)]
        again = {e.episode: self.worker.shared.score(e.architecture, self.data.val) for e in candidates}
        ranked = sorted(candidates, key=lambda e: score(replace(e, metrics=again[e.episode])))
        self.rescored = {e.episode: again[e.episode] for e in ranked}  # best first, as the result keeps it
        best = Best(self._best.objective)
        derived: list[Episode] = []
        weights: dict[str, Any] | None = None  # the best's, as its worker sent them back
        replaying = True  # while the ranked ones are those recorded, in order
        for index, e in enumerate(ranked[:top or sharing.derive]):
            earlier = recorded[index] if index < len(recorded) else None
            replaying = replaying and earlier is not None and \
                (earlier.episode, earlier.architecture) == (e.episode, e.architecture)
            if replaying and earlier is not None:  # as recorded, without weights: retrained if it is the product
                episode, trained = earlier, None
            else:
                outcome = self.worker.train_alone(Child(e.episode, e.architecture))
                episode = replace(e, metrics=outcome.metrics, status=outcome.status, reason=outcome.reason,
                                  seconds=outcome.seconds, update=None, evaluation="standalone")
                trained = outcome.weights
            derived.append(episode)
            if best.offer(episode):
                weights = trained
            if callback is not None:
                callback(episode)
        if best.episode is None:
            raise SearchFailed(f"none of the {len(derived)} architectures retrained from scratch produced metrics; "
                               f"the last said: {derived[-1].reason if derived else 'nothing was scored'}")
        self.best_model = (best.episode, weights) if weights is not None else None
        return replace(result, best=best.episode, derived=derived, rescored=self.rescored,
                       derive_seconds=time.perf_counter() - start)
    # --8<-- [end:derive]

    def final_test(self, result: SearchResult, final_epochs: int = 0, resume: dict[str, Any] | None = None,
                   on_epoch: Callable[[Epoch], None] | None = None) -> SearchResult:
        """Test accuracy of the best architecture: as trained in the search (with the weights its
        worker sent back; a Network without a PyTorch module is trained again from its episode's
        seed), or retrained on train + validation for `final_epochs` epochs when that is > 0 (going
        on from `resume`, the state of that retraining after one of its epochs, if given; `on_epoch`
        in this process after each epoch, wherever the executor retrains it)."""
        best = Child(result.best.episode, result.best.architecture)
        kept = self.best_model
        weights = kept[1] if kept is not None and kept[0].episode == best.number else None
        outcome = self.executor.test(best, final_epochs, weights, resume, on_epoch)
        if outcome.weights is not None:
            self.best_model = (result.best, outcome.weights)
        return replace(result, test=outcome.metrics, final_epochs=final_epochs)

    # ---- the product ----

    def save_model(self, directory: str | Path, result: SearchResult) -> Path:
        """The model `result` found, as a run directory keeps it: best.pt in `directory` (made if it
        is not there), its best architecture with the weights final_test() tested (or, before a
        test, as its search trained it), for load_model(); and best.onnx beside it, checked against
        it (a warning says why where it could not be written). Returns best.pt's path. ValueError
        where `directory` is a file or holds a model already, or there are no such weights (see found())."""
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"{directory} is a file, not a folder")
        for name in (MODEL, ONNX_MODEL):
            if (directory / name).exists():
                raise ValueError(f"{directory} holds a {name} already; choose another folder, or remove it")
        card, weights = self.found(result)
        directory.mkdir(parents=True, exist_ok=True)
        path, onnx, check = write_model_files(directory, card, weights, self.data.test.x)
        if not onnx:
            warnings.warn(f"{directory / ONNX_MODEL} not written: {check}", stacklevel=2)
        return path

    def found(self, result: SearchResult) -> tuple[ModelCard, dict[str, Any]]:
        """The card and the weights of `result`'s best (this search's; tested by final_test() or not),
        as best.pt holds them; ValueError where its weights are not at hand: a network that is not a
        PyTorch module (a table, a factory function: nothing to rebuild the weights into), or a best
        whose weights no worker sent back (final_test() trains it, and then has them)."""
        how = (f"final: retrained {result.final_epochs} epoch(s) on train + validation" if result.final_epochs
               else trained_in_search(self))
        card = model_card(self, result.best, how, result.test)
        if card is None:
            name = getattr(self.network_factory, "__name__", type(self.network_factory).__name__)
            raise ValueError(f"the {name} network's weights are not a PyTorch module here")
        kept = self.best_model
        if kept is None or kept[0].episode != result.best.episode:
            raise ValueError(f"the weights of episode {result.best.episode}, the best, are not at hand: "
                             "final_test() trains it and keeps them")
        return card, kept[1]

    # ---- checkpoints ----

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds besides episodes.jsonl: the agent and the random generators, as
        they were before the children of the current update were sampled (a resume samples them
        again and replays the recorded ones)."""
        if self._boundary is not None:
            return self._boundary
        state = {"episodes": len(self.history), "agent": self.agent.state_dict(), "rng": generators_state()}
        if self.worker.shared is not None:  # the supernet as the round's shared training left it
            state["shared"] = {"weights": self.worker.shared.state_dict(), "rounds": self._shared_rounds,
                               "rng": self._shared_rng.getstate()}
        return state

    def restore(self, recorded: Sequence[Episode], checkpoint: dict[str, Any] | None) -> set[Architecture]:
        """Continue a search from its record (see replay.Replay): the episodes up to the checkpoint
        are taken as they are, the ones after it replayed through the agent, never retrained. The
        cache holds their outcomes, but for RETRIED failures: the agent may draw those again, and then
        they are trained again. Returns those architectures; where there are any, the state to
        checkpoint has changed (a later resume must replay this session's draws from it)."""
        replay = Replay(recorded, checkpoint)
        shared = (checkpoint or {}).get("shared")
        if self.worker.shared is not None and shared is not None:
            self.worker.shared.load_state_dict(shared["weights"])
            self._shared_rounds, state = int(shared["rounds"]), shared["rng"]
            self._shared_rng.setstate((state[0], tuple(state[1]), state[2]))
        elif self.worker.shared is not None and checkpoint is not None:
            raise ValueError("the checkpoint holds no shared weights: the search was made without weight sharing")
        for episode in replay.restore(self.agent):
            self._remember(episode, cache=episode.status not in RETRIED)
        while len(self.history) < len(recorded):
            # the round as the search drew it
            child = self._draw(last=max(self.config.episodes, len(recorded)))[0]
            episode = replay.episode_of(child)
            self._take(child)
            self._reward(child, episode.outcome, episode.cached)
            self._remember(episode, cache=episode.status not in RETRIED)
        # drawn again, not only trained again if drawn: every agent draws an architecture once. After
        # the replay, which draws as the record was drawn; a round already drawn keeps its children.
        again = {e.architecture for e in self.history if e.status in RETRIED} - self._cache.keys()
        for architecture in again:
            self.agent.forget(architecture)
        return again

    # ---- one policy update ----

    # --8<-- [start:episode]
    def _update_round(self) -> Iterator[Episode]:
        """The children up to the next policy update: generated together, the new ones trained and
        evaluated by the executor (the others come from the cache), recorded in the order they
        were generated. Past the time limit, only as far as they are done: the children still
        training (with K at once, or Ray) are dropped, those that finished before them kept."""
        children = self._draw()
        new: dict[Architecture, Child] = {}  # first of each architecture not evaluated before
        for child in children:
            if child.architecture not in self._cache:
                new.setdefault(child.architecture, child)
        outcomes = self.executor.run(list(new.values()))
        try:
            for child in children:
                # evaluated before in this search: not retrained
                cached = child.architecture in self._cache
                if self._past_limit and not cached and not self.executor.ready():
                    return
                outcome = self._cache[child.architecture].outcome if cached else next(outcomes)
                yield self._record(child, outcome, cached)
        finally:
            outcomes.close()

    def _record(self, child: Child, outcome: Outcome, cached: bool) -> Episode:
        """The one path every evaluated child takes: rewarded, remembered, told to the callbacks."""
        self._take(child)
        episode = self._reward(child, outcome, cached)
        if self._remember(episode) and outcome.weights is not None:
            self.best_model = (episode, outcome.weights)
        for callback in self._callbacks:
            callback(episode)
        return episode

    def _take(self, child: Child) -> None:
        """`child` is evaluated: no longer waiting; once its round is complete, checkpoints see the
        state after it."""
        self._drawn.remove(child)
        if not self._drawn:
            self._boundary = None

    def _reward(self, child: Child, outcome: Outcome, cached: bool) -> Episode:
        start = time.perf_counter()
        baseline = self.agent.value_function()
        reward = self.agent.reward(self._samples.pop(child.number), outcome.metrics or PENALTY)
        update = None
        if child.number % self.agent.config.children_per_update == 0:
            update = self.agent.update_policy()
        return Episode(child.number, child.architecture, outcome.metrics, reward, baseline, cached=cached,
                       seconds=outcome.seconds + time.perf_counter() - start, status=outcome.status,
                       reason=outcome.reason, update=update, evaluation=outcome.evaluation)

    # --8<-- [end:episode]
    def _draw(self, last: int | None = None) -> list[Child]:
        """The children up to the next policy update (at most to episode `last`, default the
        budget): those still waiting from an earlier round or from steps run by hand, or else
        newly generated."""
        if not self._drawn:
            first = len(self.history) + 1
            m = self.agent.config.children_per_update
            end = min(first + m - 1 - (first - 1) % m, max(first, last or self.config.episodes))
            for _ in range(first, end + 1):
                self.generate_architecture()
        self._trained = None  # a child trained by hand but not evaluated is run again with the others
        return list(self._drawn)

    # --8<-- [start:shared-phase]
    def _train_shared(self, number: int) -> None:
        """With weight sharing, before the children of the round that starts at episode `number`
        are drawn, once (a resumed round too): its shared training, on what agent.draw() draws."""
        index = (number - 1) // self.agent.config.children_per_update  # this round, from 0
        if self.config.sharing is None or self._shared_rounds > index:
            return  # no sharing, or done before the checkpoint this search resumed from
        loss = self.worker.train_shared(self.config.sharing.steps, self.agent.draw, self._shared_rng)
        self._shared_rounds = index + 1
        assert self.worker.shared is not None
        for callback in self._shared_callbacks:
            callback(self.worker.shared.steps, loss)
    # --8<-- [end:shared-phase]

    def _remember(self, episode: Episode, cache: bool = True) -> bool:
        """Add `episode` to the history and (unless told not to) the cache; True if it is now the
        best (records.Best)."""
        self.history.append(episode)
        if cache:
            self._cache.setdefault(episode.architecture, episode)
        return self._best.offer(episode)

    def _stop_reason(self, episode: Episode) -> str:
        """Why the search ends after `episode`, or "budget" while it goes on."""
        if self._stop:
            return "stopped"
        if episode.update and episode.update["entropy"] < self.config.stop_entropy:
            return "converged"
        if self._failures_in_a_row() >= self.config.stop_failures:
            return "failures"
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return "time"
        return "budget"

    def _result(self, stop_reason: str, seconds: float, before: int) -> SearchResult:
        if self._best.episode is None:
            kinds = {e.status for e in self.history}
            last = self.history[-1].reason if self.history else ""
            which = "the only child" if len(self.history) == 1 else f"none of the {len(self.history)} children"
            raise SearchFailed(f"{which} produced {'no ' if len(self.history) == 1 else ''}metrics "
                               f"({', '.join(sorted(kinds))}); the last said: {last}")
        return SearchResult(best=self._best.episode, episodes=list(self.history), stop_reason=stop_reason,
                            seconds=seconds, recorded_before=before)

    def _failures_in_a_row(self) -> int:
        count = 0
        for episode in reversed(self.history):
            if episode.status in ("ok", "invalid"):  # invalid children are cheap and teach the agent
                break
            count += 1
        return count


def model_card(controller: NASController, episode: Episode, trained: str,
               test: Metrics | None = None) -> ModelCard | None:
    """What best.pt says about the weights of `episode`, trained as `trained` says; None when the
    controller's network is not a TorchNetwork class (a table, a factory function: nothing to
    rebuild the weights into)."""
    factory = controller.network_factory
    if not (isinstance(factory, type) and issubclass(factory, TorchNetwork)):
        return None
    return ModelCard.of(factory, episode.architecture, controller.agent.space, controller.data,
                        controller.train_config, episode=episode.episode, trained=trained,
                        val_metrics=episode.metrics, test_metrics=test)


def trained_in_search(controller: NASController) -> str:
    """How a child of this search was trained, as best.pt says it."""
    config = controller.config
    budget = f"{config.epochs} epoch(s) on {len(controller.data.train.head(config.train_limit)):,} training images"
    if config.sharing is not None:
        return f"derived from a weight-sharing search: trained from scratch, {budget}"
    return f"search: {budget}"


def _check_normalisation(data: Dataset) -> None:
    """Warn where a model found on `data` would take raw pixels wrongly: a dataset of a name of its
    own that does not say how it was normalised (normalisation None: predict() and best.onnx then
    take its images as pixels / 255) but whose images are not pixels / 255."""
    if data.normalisation is not None or data.name in PIXEL_STATS or not len(data.train):
        return
    low, high = float(data.train.x.min()), float(data.train.x.max())
    if low < 0 or high > 1:
        warnings.warn(f"dataset {data.name!r} does not say how its images were normalised, and they are not "
                      f"pixel values / 255 (they go from {low:.3g} to {high:.3g}): a model found on it would take "
                      "raw pixels wrongly (its predict(), best.onnx). Give Dataset(..., normalisation=(mean, std)), "
                      "or make it with Dataset.from_images", stacklevel=3)

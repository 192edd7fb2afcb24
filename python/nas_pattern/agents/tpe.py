"""TPEAgent: Optuna's Tree-structured Parzen Estimator, asked and told one architecture at a time."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from nas_pattern.agents.base import Agent, Sample, diversity, numpy_state, plain_numpy_state
from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace

DIVERSITY_WINDOW = 20  # the latest trials whose diversity update_policy() reports


class TPEAgent(Agent):
    """Optuna's Tree-structured Parzen Estimator driving the search through ask/tell: one trial
    per architecture, one categorical parameter per decision (its choice index). With
    `config.tpe.without_replacement` (the default) a sample is an architecture not given before: a
    trial that proposes one trained before is told its score at once, as the controller's cache
    would have answered at the end of the round, and the sampler is asked again (Agent.unseen).
    Needs the optional dependency optuna (`pip install 'nas-pattern[bench]'`)."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        try:
            import optuna
        except ImportError:
            raise ValueError("the tpe agent needs optuna: pip install optuna (or 'nas-pattern[bench]')") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(direction="maximize",
                                         # numpy's generators take seeds of 32 bits
                                         sampler=optuna.samplers.TPESampler(seed=self.config.seed % 2**32))
        self.trials: dict[int, Any] = {}  # the asked trial of each open sample, by the sample's number
        self.told: list[tuple[list[int], float]] = []  # every trial told: its choice indices and score
        self.scores: dict[Architecture, float] = {}  # every architecture told: its latest score
        self.rng = random.Random(self.config.seed)  # unseen()'s uniform draws

    def policy(self) -> Sample:
        if not self.config.tpe.without_replacement:
            trial, actions = self._ask()
        else:
            asked: list[Any] = []  # the latest trial asked, until unseen() takes or rejects its choices

            def propose() -> list[int]:
                trial, actions = self._ask()
                asked.append(trial)
                return actions

            actions = self.unseen(propose, self.rng, rejected=lambda repeat: self._tell_repeat(asked.pop(), repeat))
            if asked:
                trial = asked.pop()
            else:  # unseen()'s uniform draw: asked as a trial of those choices
                self.study.enqueue_trial(dict(zip(self.space.step_names, actions, strict=True)))
                trial, _ = self._ask()
        sample = self.give(actions)
        self.trials[sample.number] = trial
        return sample

    def _ask(self) -> tuple[Any, list[int]]:
        trial = self.study.ask()
        return trial, [trial.suggest_categorical(name, list(range(n)))
                       for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)]

    def _tell_repeat(self, trial: Any, actions: list[int]) -> None:
        """A trial of an architecture given before: told its score, as a child answered from the cache
        was; failed, to Optuna, if it has none yet (given in this round and not rewarded)."""
        score = self.scores.get(self.space.decode(actions))
        if score is None:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
            return
        self.study.tell(trial, score)
        self.told.append((list(actions), score))

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.take(sample, metrics)
        self.study.tell(self.trials.pop(sample.number), score)
        self.told.append((list(sample.actions), score))
        self.scores[sample.architecture] = score  # the latest: one trained again after a resume has a new one
        return score

    def value_function(self) -> float:
        return sum(score for _, score in self.told) / len(self.told) if self.told else math.nan

    def update_policy(self) -> dict[str, float]:
        self.close()
        for trial in self.trials.values():  # asked before the update and never told: failed, to Optuna
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        self.trials.clear()
        return {"entropy": diversity(self.space, [actions for actions, _ in self.told[-DIVERSITY_WINDOW:]])}

    def state_dict(self) -> dict[str, Any]:
        # The controller takes this before every round, so it is small: the trials told (the study
        # is rebuilt from them), the open samples (asked again on load), and the sampler's random
        # generators as plain numbers (a resume loads checkpoints weights-only: no pickle of the
        # sampler, which could run code). Pickling the whole study cost a search time quadratic in
        # its trials.
        return {"told": list(self.told), "sampler_rng": _random_states(self.study.sampler),
                "rng": self.rng.getstate(), **self.samples_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "sampler_rng" not in state:  # "study" or "sampler": pickles, which a resume does not load
            raise ValueError("the checkpoint holds the TPE agent's Optuna sampler as a pickle, as "
                             "nas-pattern wrote it before 2026-12-08; a resume no longer unpickles a "
                             "checkpoint (a pickle can run any code), so this search cannot go on: its "
                             "record and best.pt stay as they are")
        optuna = self._optuna
        distributions = {name: optuna.distributions.CategoricalDistribution(list(range(n)))
                         for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)}
        study = optuna.create_study(direction="maximize", sampler=self.study.sampler)
        study.add_trials(optuna.trial.create_trial(params=dict(zip(distributions, actions, strict=True)),
                                                   distributions=distributions, value=score)
                         for actions, score in state["told"])
        self.load_samples_state(state)
        for actions in state.get("pending", []):  # a checkpoint from before the handles: its waiting samples
            self.give(actions)
        self.trials = {}
        for sample in self.open.values():  # asked again with the same choices, waiting for their rewards
            study.enqueue_trial(dict(zip(distributions, sample.actions, strict=True)))
            trial = study.ask()
            for name, n in zip(self.space.step_names, self.space.num_choices, strict=True):
                trial.suggest_categorical(name, list(range(n)))
            self.trials[sample.number] = trial
        _set_random_states(study.sampler, state["sampler_rng"])  # as they were, untouched by the asks above
        self.study = study
        self.told = [(list(actions), float(score)) for actions, score in state["told"]]
        self._remember_scores()
        self.rng.setstate(state["rng"])

    def _remember_scores(self) -> None:
        self.scores = {}
        for actions, score in self.told:  # the latest of each
            self.scores[self.space.decode(actions)] = score


def _random_states(sampler: Any) -> dict[str, list[Any]]:
    """The numpy generators an Optuna sampler draws from (TPE's own and the random sampler's it
    starts with), by attribute path, each state as plain numbers: ["MT19937", keys, position,
    has_gauss, cached_gaussian]. Found by walking the sampler's attributes, whatever Optuna version
    names them."""
    return {path: plain_numpy_state(rng.get_state(legacy=True)) for path, rng in _generators(sampler)}


def _set_random_states(sampler: Any, states: dict[str, list[Any]]) -> None:
    """Return the generators of `sampler` (made as the saved one was) to `states` (_random_states)."""
    generators = dict(_generators(sampler))
    if generators.keys() != states.keys():
        raise ValueError(f"the checkpoint's TPE sampler drew from {sorted(states)}, this Optuna's from "
                         f"{sorted(generators)}: resume with the Optuna version the search began with")
    for path, state in states.items():
        generators[path].set_state(numpy_state(state))


def _generators(obj: Any, path: str = "", depth: int = 0) -> list[tuple[str, np.random.RandomState]]:
    """(attribute path, generator) of each NumPy RandomState in `obj`, down to three objects deep."""
    found = []
    for name, value in sorted(vars(obj).items()):
        if isinstance(value, np.random.RandomState):
            found.append((path + name, value))
        elif hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value) and depth < 3:
            found += _generators(value, f"{path}{name}.", depth + 1)
    return found

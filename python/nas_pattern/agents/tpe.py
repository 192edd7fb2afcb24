"""TPEAgent: Optuna's Tree-structured Parzen Estimator, asked and told one architecture at a time."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any

from nas_pattern.agents.base import Agent, Sample, diversity
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
        # is rebuilt from them), the open samples (asked again on load), and the sampler with its
        # random state. Pickling the whole study instead cost a search time quadratic in its trials.
        return {"told": list(self.told), "sampler": pickle.dumps(self.study.sampler), "rng": self.rng.getstate(),
                **self.samples_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "study" in state:  # a checkpoint from before the study was rebuilt from its trials
            self.study = pickle.loads(state["study"])
            trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
            self.load_samples_state(state)
            self.trials = {}
            for n in state["pending"]:
                trial = self._optuna.trial.Trial(self.study, trials[n]._trial_id)
                self.trials[self.give(list(trial.params.values())).number] = trial
            self.told = [(list(t.params.values()), float(t.value or 0.0)) for t in self.study.get_trials(deepcopy=False)
                         if t.state == self._optuna.trial.TrialState.COMPLETE]
            self._remember_scores()
            return
        optuna = self._optuna
        distributions = {name: optuna.distributions.CategoricalDistribution(list(range(n)))
                         for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)}
        study = optuna.create_study(direction="maximize")
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
        study.sampler = pickle.loads(state["sampler"])  # its random state as it was, untouched by the asks above
        self.study = study
        self.told = [(list(actions), float(score)) for actions, score in state["told"]]
        self._remember_scores()
        if "rng" in state:  # (none before 2026-12-06)
            self.rng.setstate(state["rng"])

    def _remember_scores(self) -> None:
        self.scores = {}
        for actions, score in self.told:  # the latest of each
            self.scores[self.space.decode(actions)] = score

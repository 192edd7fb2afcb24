"""TPEAgent: Optuna's Tree-structured Parzen Estimator, asked and told one architecture at a time."""

from __future__ import annotations

import math
import pickle
from typing import Any

from nas_pattern.agents.base import Agent, Sample, diversity
from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import SearchSpace

DIVERSITY_WINDOW = 20  # the latest trials whose diversity update_policy() reports


class TPEAgent(Agent):
    """Optuna's Tree-structured Parzen Estimator driving the search through ask/tell: one trial
    per architecture, one categorical parameter per decision (its choice index). Needs the
    optional dependency optuna (`pip install 'nas-pattern[bench]'`)."""

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

    def policy(self) -> Sample:
        trial = self.study.ask()
        actions = [trial.suggest_categorical(name, list(range(n)))
                   for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)]
        sample = self.give(actions)
        self.trials[sample.number] = trial
        return sample

    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.take(sample, metrics)
        self.study.tell(self.trials.pop(sample.number), score)
        self.told.append((list(sample.actions), score))
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
        return {"told": list(self.told), "sampler": pickle.dumps(self.study.sampler), **self.samples_state()}

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
